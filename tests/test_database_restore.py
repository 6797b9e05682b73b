"""The README's "Restore the database in place", steps 1 to 4 command for command, with the AWS
CLI (version 1, from PyPI: the commands are the same in version 2) and the rendered project's
`database_restore.py`, against a local AWS-protocol server (moto's, from PyPI; no AWS is
reachable here); and that module's names against botocore's model of RDS's API, which the AWS
CLI validates requests with.

moto's restore copies every setting of its source, as RDS does not: what the copy lacks on AWS
is the rendered tests' (tests/test_database_restore.py there). What this checks is that the
commands run as written, in order, with the files they pass each other, and that each request
is one RDS's API takes.
"""

from __future__ import annotations

import json
import re
import shutil
import textwrap
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.model import ListShape, Shape, StructureShape

from .support.commands import run
from .support.environments import shared_environment
from .support.local_aws import LOCAL_KEY_ID, LOCAL_SECRET, cli_environment
from .support.template import module_at

REGION = "ap-northeast-1"
DATABASE = "orders-api-prod"


def _restore_blocks(readme: str) -> dict[str, str]:
    """The shell blocks of the runbook's "Restore the database in place", by the step they
    begin with: "0" (stop the service), "1" (steps 1 to 4), "5", "6" (give the service back),
    those of a list item dedented; and "settled", the runbook's function their waits call."""
    section = readme.split("\n**Restore the database in place**", 1)[1].split("\n7. ", 1)[0]
    blocks = [
        textwrap.dedent(body)
        for _, body in re.findall(r"^( *)```sh\n(.*?)^\1```", section, re.DOTALL | re.MULTILINE)
    ]
    steps = {"0": "# 0.", "1": "DB=", "5": "SECRET=", "6": "for SVC"}
    found = {
        step: next((b for b in blocks if b.startswith(start)), "") for step, start in steps.items()
    }
    assert all(found.values()), f"the README's restore lacks a step: {found}"
    # The runbook's own shell function its waits call, from the runbook's first block.
    settled = re.search(r"^settled\(\) \{\n.*?^\}\n", readme, re.DOTALL | re.MULTILINE)
    assert settled, "the runbook defines no settled()"
    found["settled"] = settled[0]
    return found


def _member(shape: Shape, path: str) -> Shape | None:
    """The shape at a `describe-db-instances` path (`A.B`, `A[0].B`, `A[*].B`) of `shape`."""
    for part in path.split("."):
        name = part.split("[", 1)[0]
        if not isinstance(shape, StructureShape) or name not in shape.members:
            return None
        shape = shape.members[name]
        if "[" in part:
            if not isinstance(shape, ListShape):
                return None
            shape = shape.member
    return shape


def test_the_restore_requests_name_what_rdss_api_has(default_project: Path) -> None:
    # Protects: each setting is read from a field `describe-db-instances` has, and sent as a
    # parameter its request takes (a misspelt name would be dropped or refused on the day of a
    # restore).
    module = module_at(default_project / "orders_api" / "database_restore.py", "database_restore")
    model = botocore.session.get_session().get_service_model("rds")
    described = model.shape_for("DBInstance")
    restore = model.operation_model("RestoreDBInstanceToPointInTime").input_shape
    modify = model.operation_model("ModifyDBInstance").input_shape
    assert isinstance(restore, StructureShape) and isinstance(modify, StructureShape)
    for setting in module.SETTINGS:
        assert _member(described, setting.described) is not None, setting
        assert setting.restore is None or setting.restore in restore.members, setting
        assert setting.modify is None or setting.modify in modify.members, setting
    assert {"CloudwatchLogsExportConfiguration", "ApplyImmediately"} <= set(modify.members)
    assert "TagList" in described.members and "Tags" in restore.members


@pytest.mark.cost(7)
def test_readme_restores_the_database_in_place_command_for_command(
    default_project: Path, local_aws: str, tmp_path: Path
) -> None:
    # A copy: the commands write their files where they run, and other tests read the
    # project's tree.
    project = tmp_path / "orders-api"
    shutil.copytree(
        default_project,
        project,
        symlinks=True,
        ignore=shutil.ignore_patterns(".venv", "node_modules", "cdk.out", ".git", ".*_cache"),
    )
    shared_environment(project)

    import boto3

    local = boto3.Session(
        aws_access_key_id=LOCAL_KEY_ID, aws_secret_access_key=LOCAL_SECRET, region_name=REGION
    )
    ec2 = local.client("ec2", endpoint_url=local_aws)
    rds = local.client("rds", endpoint_url=local_aws)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{n}.0/24", AvailabilityZone=f"{REGION}{z}")[
            "Subnet"
        ]["SubnetId"]
        for n, z in ((1, "a"), (2, "c"))
    ]
    group = ec2.create_security_group(GroupName="database", Description="db", VpcId=vpc)
    rds.create_db_subnet_group(
        DBSubnetGroupName="datastore-database", DBSubnetGroupDescription="db", SubnetIds=subnets
    )
    # The production database as the Datastore stack deploys it (the rendered tests check
    # the stack's side).
    rds.create_db_instance(
        DBInstanceIdentifier=DATABASE,
        DBInstanceClass="db.t4g.small",
        Engine="postgres",
        DBName="app",
        MasterUsername="service_admin",
        MasterUserPassword="not-a-secret-here",  # pragma: allowlist secret
        AllocatedStorage=20,
        MaxAllocatedStorage=100,
        StorageType="gp3",
        StorageEncrypted=True,
        DBSubnetGroupName="datastore-database",
        VpcSecurityGroupIds=[group["GroupId"]],
        Port=5433,
        MultiAZ=False,
        PubliclyAccessible=False,
        EnableIAMDatabaseAuthentication=True,
        EnableCloudwatchLogsExports=["postgresql", "upgrade"],
        BackupRetentionPeriod=7,
        CopyTagsToSnapshot=True,
        DeletionProtection=True,
        Tags=[{"Key": "team", "Value": "orders"}],
    )
    running = rds.describe_db_instances(DBInstanceIdentifier=DATABASE)["DBInstances"][0]
    # moto makes an automated snapshot as it creates an instance, named by the instance and
    # the minute, and would refuse the copy's, made under the same name within the minute
    # (on AWS, hours apart). AWS would not let anyone delete it; moto does.
    for snapshot in rds.describe_db_snapshots(SnapshotType="automated")["DBSnapshots"]:
        rds.delete_db_snapshot(DBSnapshotIdentifier=snapshot["DBSnapshotIdentifier"])

    # The API's ECS service and its autoscaling range, as the Compute stack deploys them.
    ecs = local.client("ecs", endpoint_url=local_aws)
    scaling = local.client("application-autoscaling", endpoint_url=local_aws)
    ecs.create_cluster(clusterName="orders-api-prod")
    ecs.register_task_definition(
        family="api", containerDefinitions=[{"name": "App", "image": "app", "memory": 512}]
    )
    # At zero already: moto's Application Auto Scaling does not set the service's count as
    # AWS's does once the range is 0 to 0, and the step's wait is for that count.
    ecs.create_service(
        cluster="orders-api-prod", serviceName="api", taskDefinition="api", desiredCount=0
    )
    target = {
        "ServiceNamespace": "ecs",
        "ResourceId": "service/orders-api-prod/api",
        "ScalableDimension": "ecs:service:DesiredCount",
    }
    scaling.register_scalable_target(**target, MinCapacity=2, MaxCapacity=6)

    def capacity() -> tuple[int, int]:
        (found,) = scaling.describe_scalable_targets(
            ServiceNamespace="ecs", ResourceIds=[target["ResourceId"]]
        )["ScalableTargets"]
        return found["MinCapacity"], found["MaxCapacity"]

    environment = cli_environment(local_aws, REGION)
    blocks = _restore_blocks((project / "README.md").read_text())
    assert f"DB={DATABASE}\n" in blocks["1"]
    # The runbook's shell (README, "Runbook") has these; moto changes an instance at once,
    # so each wait ends at its first look and its pauses are skipped; `gh` reaches no GitHub.
    prelude = 'CLUSTER=orders-api-prod SERVICE=api\nsleep() { :; }\ngh() { echo "gh $*"; }\n'
    prelude += blocks["settled"]

    def step(name: str) -> str:
        command = ["bash", "-euo", "pipefail", "-c", prelude + blocks[name]]
        return run(command, project, environment=environment, timeout=120).stdout

    assert "gh workflow disable deploy.yml" in step("0")
    assert capacity() == (0, 0)
    step("1")

    # The files the commands passed each other.
    restore: dict[str, Any] = json.loads((project / "restore.json").read_text())
    assert restore["SourceDBInstanceIdentifier"] == f"{DATABASE}-before-restore"
    assert restore["TargetDBInstanceIdentifier"] == DATABASE
    assert restore["VpcSecurityGroupIds"] == [group["GroupId"]]
    assert restore["DBSubnetGroupName"] == "datastore-database"
    settings = json.loads((project / "settings.json").read_text())
    assert settings["DBInstanceIdentifier"] == DATABASE
    # The running instance is out of the way; a copy has its name, subnets and group.
    renamed = rds.describe_db_instances(DBInstanceIdentifier=f"{DATABASE}-before-restore")
    assert renamed["DBInstances"][0]["DbiResourceId"] == running["DbiResourceId"]
    assert len(rds.describe_db_instances()["DBInstances"]) == 2
    (copy,) = rds.describe_db_instances(DBInstanceIdentifier=DATABASE)["DBInstances"]
    assert copy["DBSubnetGroup"]["DBSubnetGroupName"] == "datastore-database"
    assert [g["VpcSecurityGroupId"] for g in copy["VpcSecurityGroups"]] == [group["GroupId"]]
    assert copy["Endpoint"]["Port"] == 5433
    # The service gets its range back, and deploys.
    assert "gh workflow enable deploy.yml" in step("6")
    assert capacity() == (2, 6)
