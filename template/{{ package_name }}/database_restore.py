"""Restoring the database in place: the requests that give a restored copy, under the running
instance's name, every setting the running instance has (README, "Restore the database in
place").

RDS restores into a new instance, never over one, and CloudFormation cannot replace an
instance whose name is fixed. So the runbook renames the running instance out of the way,
restores the copy under its name (RDS's "Renaming to replace an existing DB instance"), and
the stacks, alarms, backup plan and secrets, which all know the instance by that name and its
endpoint, carry on with the copy. A restore sets what its request says and defaults the rest
(the VPC's default security group, Single-AZ, no monitoring), and CloudFormation would not
notice: it compares templates, not instances. These requests are made from what
`describe-db-instances` said of the running instance before the rename:

    python -m <package>.database_restore point-in-time before-restore.json <UTC time>
        the restore-db-instance-to-point-in-time request (--cli-input-json)
    python -m <package>.database_restore settings before-restore.json restored.json
        the modify-db-instance request for every setting of the running instance the
        restored one lacks, whichever way it was restored (point in time, AWS Backup)

`SETTINGS` lists each property the Datastore stack sets on the instance with where the
requests carry it; `FROM_THE_COPY` each property a restore takes from the copy itself. A test
fails when the stack sets a property that is in neither.
"""

import json
import re
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

# What the running instance is renamed to; the copy takes its name.
RENAMED_SUFFIX = "-before-restore"
# Tags AWS sets (aws:cloudformation:...): nobody else may set them.
RESERVED_TAG_PREFIX = "aws:"


@dataclass(frozen=True)
class Setting:
    """One setting of the instance: the stack's property, where `describe-db-instances` shows
    it (a path: `A.B`, `A[0].B`, `A[*].B`), and the parameter of each request that sets it
    (None where that request does not take it)."""

    stack_property: str
    described: str
    restore: str | None
    modify: str | None


SETTINGS: tuple[Setting, ...] = (
    Setting("DBInstanceClass", "DBInstanceClass", "DBInstanceClass", "DBInstanceClass"),
    Setting("DBSubnetGroupName", "DBSubnetGroup.DBSubnetGroupName", "DBSubnetGroupName", None),
    Setting(
        "VPCSecurityGroups",
        "VpcSecurityGroups[*].VpcSecurityGroupId",
        "VpcSecurityGroupIds",
        "VpcSecurityGroupIds",
    ),
    Setting("Port", "Endpoint.Port", "Port", "DBPortNumber"),
    Setting("MultiAZ", "MultiAZ", "MultiAZ", "MultiAZ"),
    Setting("PubliclyAccessible", "PubliclyAccessible", "PubliclyAccessible", "PubliclyAccessible"),
    Setting("StorageType", "StorageType", "StorageType", "StorageType"),
    Setting(
        "MaxAllocatedStorage", "MaxAllocatedStorage", "MaxAllocatedStorage", "MaxAllocatedStorage"
    ),
    Setting(
        "DBParameterGroupName",
        "DBParameterGroups[0].DBParameterGroupName",
        "DBParameterGroupName",
        "DBParameterGroupName",
    ),
    Setting(
        "CACertificateIdentifier",
        "CACertificateIdentifier",
        "CACertificateIdentifier",
        "CACertificateIdentifier",
    ),
    Setting(
        "EnableIAMDatabaseAuthentication",
        "IAMDatabaseAuthenticationEnabled",
        "EnableIAMDatabaseAuthentication",
        "EnableIAMDatabaseAuthentication",
    ),
    Setting(
        "EnableCloudwatchLogsExports",
        "EnabledCloudwatchLogsExports",
        "EnableCloudwatchLogsExports",
        None,  # modify-db-instance takes a change instead: CloudwatchLogsExportConfiguration
    ),
    # Set after the restore: the restore's parameters for these two are recent, and an AWS CLI
    # older than them refuses the whole request.
    Setting("BackupRetentionPeriod", "BackupRetentionPeriod", None, "BackupRetentionPeriod"),
    Setting("PreferredBackupWindow", "PreferredBackupWindow", None, "PreferredBackupWindow"),
    Setting(
        "PreferredMaintenanceWindow",
        "PreferredMaintenanceWindow",
        None,
        "PreferredMaintenanceWindow",
    ),
    Setting("CopyTagsToSnapshot", "CopyTagsToSnapshot", "CopyTagsToSnapshot", "CopyTagsToSnapshot"),
    Setting(
        "AutoMinorVersionUpgrade",
        "AutoMinorVersionUpgrade",
        "AutoMinorVersionUpgrade",
        "AutoMinorVersionUpgrade",
    ),
    Setting("DeletionProtection", "DeletionProtection", "DeletionProtection", "DeletionProtection"),
    Setting("MonitoringInterval", "MonitoringInterval", None, "MonitoringInterval"),
    Setting("MonitoringRoleArn", "MonitoringRoleArn", None, "MonitoringRoleArn"),
    Setting(
        "EnablePerformanceInsights",
        "PerformanceInsightsEnabled",
        None,
        "EnablePerformanceInsights",
    ),
    Setting(
        "PerformanceInsightsKMSKeyId",
        "PerformanceInsightsKMSKeyId",
        None,
        "PerformanceInsightsKMSKeyId",
    ),
    Setting(
        "PerformanceInsightsRetentionPeriod",
        "PerformanceInsightsRetentionPeriod",
        None,
        "PerformanceInsightsRetentionPeriod",
    ),
)

# What a restore takes from the copy, and why the requests leave it alone.
FROM_THE_COPY: dict[str, str] = {
    "DBInstanceIdentifier": "the copy is given the running instance's name",
    "DBName": "the copy's databases are the data restored",
    "Engine": "a restore keeps the copy's engine",
    "EngineVersion": "the copy's; the next deploy upgrades it if the stack's is newer",
    "MasterUsername": "the copy's; the same user",
    "MasterUserPassword": "the copy's, of its day: set from the secret after the restore",
    "StorageEncrypted": "a restore keeps the copy's encryption",
    "KmsKeyId": "a restore keeps the copy's key",
    "AllocatedStorage": "the copy's, which storage autoscaling grows up to MaxAllocatedStorage",
}


# Settings RDS takes only together: Performance Insights given without its key turns on with
# the account's default key, which can never be changed after; monitoring needs its role.
TOGETHER: tuple[tuple[str, ...], ...] = (
    (
        "EnablePerformanceInsights",
        "PerformanceInsightsKMSKeyId",
        "PerformanceInsightsRetentionPeriod",
    ),
    ("MonitoringInterval", "MonitoringRoleArn"),
)


def read(described: dict[str, Any], path: str) -> Any:
    """The value at `path` of a `describe-db-instances` instance, None where it has none."""
    value: Any = described
    for part in path.split("."):
        match = re.fullmatch(r"(\w+)(?:\[(\d+|\*)\])?", part)
        if match is None:
            raise ValueError(f"not a path: {path!r}")
        name, index = match.groups()
        if isinstance(value, list):  # after [*]: the same field of every item
            value = [item.get(name) for item in value]
            continue
        value = value.get(name) if isinstance(value, dict) else None
        if value is None:
            return None
        if index == "*":
            value = list(value)
        elif index is not None:
            value = value[int(index)] if len(value) > int(index) else None
    return value


def _tags(described: dict[str, Any]) -> list[dict[str, str]]:
    return [
        {"Key": tag["Key"], "Value": tag["Value"]}
        for tag in described.get("TagList", [])
        if not tag["Key"].startswith(RESERVED_TAG_PREFIX)
    ]


def point_in_time_request(described: dict[str, Any], restore_time: datetime) -> dict[str, Any]:
    """The restore of the renamed instance, as of `restore_time`, under its former name, with
    every setting such a restore takes."""
    if restore_time.tzinfo is None:
        raise ValueError("give the time to restore to with its zone, e.g. 2026-12-07T09:15:00Z")
    name = described["DBInstanceIdentifier"]
    request: dict[str, Any] = {
        "SourceDBInstanceIdentifier": name + RENAMED_SUFFIX,
        "TargetDBInstanceIdentifier": name,
        "RestoreTime": restore_time.isoformat().replace("+00:00", "Z"),
    }
    for setting in SETTINGS:
        value = read(described, setting.described)
        if setting.restore is not None and value is not None:
            request[setting.restore] = value
    tags = _tags(described)
    if tags:
        request["Tags"] = tags
    return request


def settings_request(before: dict[str, Any], restored: dict[str, Any]) -> dict[str, Any]:
    """The modify-db-instance request that gives the restored instance each setting the
    running one had and it lacks; applied at once. Only what differs: a setting given again
    with the value it has may still start a change."""
    request: dict[str, Any] = {
        "DBInstanceIdentifier": restored["DBInstanceIdentifier"],
        "ApplyImmediately": True,
    }
    wanted = {
        setting.modify: value
        for setting in SETTINGS
        if setting.modify is not None and (value := read(before, setting.described)) is not None
    }
    for setting in SETTINGS:
        if setting.modify in wanted and wanted[setting.modify] != read(restored, setting.described):
            request[setting.modify] = wanted[setting.modify]
    for group in TOGETHER:
        if any(parameter in request for parameter in group):
            request |= {parameter: wanted[parameter] for parameter in group if parameter in wanted}
    wanted_logs = set(before.get("EnabledCloudwatchLogsExports") or [])
    restored_logs = set(restored.get("EnabledCloudwatchLogsExports") or [])
    if wanted_logs != restored_logs:
        request["CloudwatchLogsExportConfiguration"] = {
            "EnableLogTypes": sorted(wanted_logs - restored_logs),
            "DisableLogTypes": sorted(restored_logs - wanted_logs),
        }
    return request


USAGE = (
    f"usage: python -m {__package__}.database_restore point-in-time <before-restore.json>"
    " <UTC time, e.g. 2026-12-07T09:15:00Z>\n"
    f"       python -m {__package__}.database_restore settings <before-restore.json>"
    " <restored.json>\n"
    "  (each file: aws rds describe-db-instances --query 'DBInstances[0]' --output json)"
)


def _described(path: str) -> dict[str, Any]:
    described = json.loads(Path(path).read_text())
    if not isinstance(described, dict) or "DBInstanceIdentifier" not in described:
        raise ValueError(
            f"{path}: not one instance of describe-db-instances (--query 'DBInstances[0]')"
        )
    return described


def main(arguments: list[str]) -> int:
    try:
        match arguments:
            case ["point-in-time", before, time]:
                moment = datetime.fromisoformat(time.replace("Z", "+00:00"))
                request = point_in_time_request(_described(before), moment)
            case ["settings", before, restored]:
                request = settings_request(_described(before), _described(restored))
            case _:
                print(USAGE, file=sys.stderr)
                return 2
    except (OSError, ValueError) as error:
        print(f"database_restore: {error}", file=sys.stderr)
        return 2
    print(json.dumps(request, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
