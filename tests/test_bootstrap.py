"""Phase 2 as an administrator runs it: the README's "First deploy" step 1, command for command,
with the pinned CDK CLI and the AWS CLI (version 1, from PyPI: the commands are the same in
version 2), against a local AWS-protocol server (moto's, from PyPI; no AWS is reachable here).
The large project's three environments share one account, so each bootstrap must bound its
roles to its own environment's stacks, and each deploy job checks that it still does before it
deploys (scripts/verify-bootstrap, the first AWS step of the job).

moto runs CloudFormation's template (the CLI's own bootstrap template, with the parameters the
CLI derives from the README's options) and keeps the roles it creates; it does not evaluate
permissions boundaries. Whether a role may write a stack is evaluated from the documents read
back, by the rendered project's own IAM evaluation (its tests/iam_evaluation.py).
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

import pytest
import yaml

from .support.commands import run
from .support.environments import shared_environment
from .support.local_aws import LOCAL_KEY_ID, LOCAL_SECRET, cli_environment
from .support.template import module_at

ACCOUNT, REGION = "123456789012", "ap-northeast-1"  # moto's default account: the project's
ROLES = ("deploy", "file-publishing", "image-publishing", "lookup", "cfn-exec")
ENVIRONMENTS = ("prod", "dev")
Allows = Callable[[Mapping[str, Any], str, str], bool]


def _step_one_blocks(readme: str) -> dict[str, str]:
    """Each environment's commands of "First deploy", step 1: environment -> script."""
    section = readme.split("\n## First deploy\n", 1)[1].split("\n**2. ", 1)[0]
    blocks = re.findall(r"```sh\n(# (\w+): account \d{12}\n.*?)```", section, re.DOTALL)
    return {environment: block for block, environment in blocks}


def _document(value: str | dict[str, Any]) -> dict[str, Any]:
    """A policy document as IAM's API returns it: boto3 decodes IAM's URL-encoded JSON; moto
    returns the inline policies its CloudFormation wrote as Python's repr of them."""
    if isinstance(value, dict):
        return value
    decoded: dict[str, Any] = ast.literal_eval(value)
    return decoded


@pytest.mark.cost(14)
def test_readme_bootstrap_bounds_each_environments_roles_to_its_stacks(
    large_project: Path, pinned_cdk_cli: Path, local_aws: str, tmp_path: Path
) -> None:
    # A copy: the large project's own check may run `npm ci` in it meanwhile. Without
    # cdk.json: with an app, `cdk bootstrap` synthesizes it to list its environments even when
    # given them (10 s of CPU each); the commands name their environment, qualifier and
    # toolkit stack, so the app's context changes nothing they do.
    project = tmp_path / "orders-api"
    shutil.copytree(
        large_project,
        project,
        symlinks=True,
        ignore=shutil.ignore_patterns(
            ".venv", "node_modules", "cdk.out", ".git", ".*_cache", "cdk.json"
        ),
    )
    shared_environment(project)
    (project / "node_modules").symlink_to(pinned_cdk_cli / "node_modules")
    environment = cli_environment(local_aws, REGION)
    blocks = _step_one_blocks((project / "README.md").read_text())
    assert sorted(blocks) == ["dev", "prod", "staging"]
    qualifiers: dict[str, str] = {}
    # Production's, and dev's after it in the same account. Staging's commands differ from
    # dev's only in their names, and each block costs a CDK CLI and two Python starts that
    # import aws-cdk-lib: the rendered tests check every environment's boundary offline.
    for name in ENVIRONMENTS:
        block = blocks[name]
        result = run(["bash", "-euo", "pipefail", "-c", block], project, environment=environment)
        assert "bootstrapped" in result.stdout + result.stderr, name
        (qualifiers[name],) = re.findall(r"--qualifier (\S+)", block)

    import boto3

    local = boto3.Session(
        aws_access_key_id=LOCAL_KEY_ID, aws_secret_access_key=LOCAL_SECRET, region_name=REGION
    )
    iam = local.client("iam", endpoint_url=local_aws)
    cloudformation = local.client("cloudformation", endpoint_url=local_aws)
    evaluation = _rendered_iam_evaluation(project)
    for name, qualifier in qualifiers.items():
        boundary = f"arn:aws:iam::{ACCOUNT}:policy/orders-api-{name}-cdk-bootstrap-boundary"
        for role in ROLES:
            role_name = f"cdk-{qualifier}-{role}-role-{ACCOUNT}-{REGION}"
            carried = iam.get_role(RoleName=role_name)["Role"].get("PermissionsBoundary", {})
            assert carried.get("PermissionsBoundaryArn") == boundary, role_name
        # What the CLI made of the README's options.
        (stack,) = cloudformation.describe_stacks(StackName=f"CDKToolkit-{qualifier}")["Stacks"]
        parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
        assert parameters["InputPermissionsBoundary"] == boundary.rsplit("/", 1)[1]
        assert parameters["ApplyPermissionsBoundaryToAllRoles"] == "true"

        # As CloudFormation wrote them: the deploy role's own policy, and its boundary.
        deploy_role = f"cdk-{qualifier}-deploy-role-{ACCOUNT}-{REGION}"
        (inline,) = iam.list_role_policies(RoleName=deploy_role)["PolicyNames"]
        own = _document(
            iam.get_role_policy(RoleName=deploy_role, PolicyName=inline)["PolicyDocument"]
        )
        version = iam.get_policy(PolicyArn=boundary)["Policy"]["DefaultVersionId"]
        bound = _document(
            iam.get_policy_version(PolicyArn=boundary, VersionId=version)["PolicyVersion"][
                "Document"
            ]
        )
        stacks = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack"
        for action in ("CreateChangeSet", "ExecuteChangeSet", "DeleteStack", "UpdateStack"):
            for other in ("dev", "staging", "prod"):
                stack = f"{stacks}/OrdersApi-{other.capitalize()}-Compute/1a2b"
                assert evaluation(own, f"cloudformation:{action}", stack), (name, other)
                assert evaluation(bound, f"cloudformation:{action}", stack) == (other == name), (
                    name,
                    action,
                    other,
                )

    # Each deploy job, before it deploys: its bootstrap still puts the boundary on all roles.
    for name, qualifier in qualifiers.items():
        verified = _verify_bootstrap(project, name, environment)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert f"CDKToolkit-{qualifier} puts the permissions boundary" in verified.stdout
    # An administrator bootstraps production again, as step 1 says but without its boundary
    # options: the CDK CLI then updates the toolkit stack with InputPermissionsBoundary empty
    # (it logs "Removing existing permissions boundary"). moto cannot run the CLI's update of
    # an existing stack (a change set), so the update is made here as the CLI makes it, each
    # other parameter as it was. Production's deploy stops there, naming the fix.
    toolkit = f"CDKToolkit-{qualifiers['prod']}"
    (stack,) = cloudformation.describe_stacks(StackName=toolkit)["Stacks"]
    cloudformation.update_stack(
        StackName=toolkit,
        TemplateBody=cloudformation.get_template(StackName=toolkit)["TemplateBody"],
        Capabilities=["CAPABILITY_NAMED_IAM"],
        Parameters=[
            {
                "ParameterKey": parameter["ParameterKey"],
                "ParameterValue": (
                    ""
                    if parameter["ParameterKey"] == "InputPermissionsBoundary"
                    else parameter["ParameterValue"]
                ),
            }
            for parameter in stack["Parameters"]
        ],
    )
    refused = _verify_bootstrap(project, "prod", environment)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert refused.stdout.startswith(
        f"::error::CDKToolkit-{qualifiers['prod']} does not put the permissions boundary "
        "orders-api-prod-cdk-bootstrap-boundary on all its roles (InputPermissionsBoundary: '',"
    ), refused.stdout
    assert '("First deploy", step 1) again' in refused.stdout


def _verify_bootstrap(
    project: Path, name: str, environment: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """The deploy job's bootstrap check for one environment, as the workflow runs it (where
    in the job it runs, the rendered test_bootstrap_boundary.py checks)."""
    workflow = yaml.safe_load((project / ".github" / "workflows" / "deploy.yml").read_text())
    (step,) = [
        step
        for step in workflow["jobs"][f"deploy-{name}"]["steps"]
        if "scripts/verify-bootstrap" in step.get("run", "")
    ]
    return subprocess.run(
        ["bash", "-eo", "pipefail", "-c", step["run"]],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )


def _rendered_iam_evaluation(project: Path) -> Allows:
    """`allows` of the rendered project's tests/iam_evaluation.py (its rendered tests evaluate
    the same documents with it)."""
    module = module_at(project / "tests" / "iam_evaluation.py", "rendered_iam_evaluation")
    return cast(Allows, module.allows)
