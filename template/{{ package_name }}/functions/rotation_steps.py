"""Secrets Manager's rotation protocol, shared by the template's rotation functions.

Secrets Manager invokes a rotation function synchronously, once per step (createSecret,
setSecret, testSecret, finishSecret), with the secret and the version it is rotating to, and
retries the whole rotation when a step fails (Secrets Manager User Guide, "Rotation by Lambda
function"). Every step must be safe to repeat. This module checks the version is one to
rotate, dispatches the step, and makes the pending version current at the end; a subclass
says how to create, set and test a value.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


def log(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


class RotationError(Exception):
    """A step cannot go on; Secrets Manager retries the rotation."""


def missing(event: dict[str, Any], keys: Iterable[str]) -> list[str]:
    return [key for key in keys if key not in event]


class Rotation:
    """The four steps for one secret; ``secrets`` is a Secrets Manager client."""

    secrets: Any

    def run(self, *, step: str, secret_id: str, token: str) -> None:
        metadata = self.secrets.describe_secret(SecretId=secret_id)
        if not metadata.get("RotationEnabled"):
            raise RotationError(f"rotation is not enabled for {secret_id}")
        stages = metadata.get("VersionIdsToStages", {})
        if token not in stages:
            raise RotationError(f"version {token} of {secret_id} has no stage for rotation")
        if "AWSCURRENT" in stages[token]:
            log("rotation_already_current", step=step, version=token)
            return
        if "AWSPENDING" not in stages[token]:
            raise RotationError(f"version {token} of {secret_id} is not AWSPENDING")
        if step == "createSecret":
            self.create_secret(secret_id, token)
        elif step == "setSecret":
            self.set_secret(secret_id, token)
        elif step == "testSecret":
            self.test_secret(secret_id, token)
        elif step == "finishSecret":
            self.finish_secret(secret_id, token)
        else:
            raise RotationError(f"unknown step {step!r}, expected one of {', '.join(STEPS)}")

    def create_secret(self, secret_id: str, token: str) -> None:
        raise NotImplementedError

    def set_secret(self, secret_id: str, token: str) -> None:
        raise NotImplementedError

    def test_secret(self, secret_id: str, token: str) -> None:
        raise NotImplementedError

    def value(self, secret_id: str, **version: str) -> str:
        answer = self.secrets.get_secret_value(SecretId=secret_id, **version)
        return str(answer["SecretString"])

    def pending_exists(self, secret_id: str, token: str) -> bool:
        """Whether createSecret already put this version (a repeated step)."""
        try:
            self.value(secret_id, VersionId=token, VersionStage="AWSPENDING")
        except self.secrets.exceptions.ResourceNotFoundException:
            return False
        return True

    def put_pending(self, secret_id: str, token: str, value: str) -> None:
        self.secrets.put_secret_value(
            SecretId=secret_id,
            ClientRequestToken=token,
            SecretString=value,
            VersionStages=["AWSPENDING"],
        )

    def finish_secret(self, secret_id: str, token: str) -> None:
        metadata = self.secrets.describe_secret(SecretId=secret_id)
        current = next(
            (
                version
                for version, stages in metadata["VersionIdsToStages"].items()
                if "AWSCURRENT" in stages
            ),
            None,
        )
        if current == token:
            log("rotation_already_current", step="finishSecret", version=token)
            return
        self.secrets.update_secret_version_stage(
            SecretId=secret_id,
            VersionStage="AWSCURRENT",
            MoveToVersionId=token,
            RemoveFromVersionId=current,
        )
        log("rotation_finished", version=token, previous=current)
