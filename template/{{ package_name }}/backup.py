"""The database's copies outside the instance: a daily AWS Backup job into a vault of its own.

RDS keeps automated backups (point-in-time restore) for the sizing's retention, but they belong
to the instance: deleting it can take them along, and whoever may change the instance may change
them. AWS Backup keeps its recovery points in a vault with its own access policy, and no
principal may delete one or shorten its life before it expires: only the plan's lifecycle does,
after the same retention (decision 13). The vault is encrypted with the stack's key; an RDS
recovery point keeps the instance's own encryption, as AWS Backup encrypts independently only
the resource types it fully manages (AWS Backup Developer Guide, "Encryption for backups").
"""

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_backup as backup
from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from constructs import Construct

from .acknowledgements import BACKUP_SERVICE_ROLE
from .policy import acknowledge

# Vault Lock's grace period: the shortest AWS Backup accepts (a 72-hour cooling-off period),
# during which the lock can still be changed or removed; after it, never.
LOCK_GRACE = Duration.days(3)

# 03:00 UTC: a job scheduled inside RDS's own backup or maintenance window waits for it to end
# (AWS Backup Developer Guide, "Creating a backup plan"); the start window covers that wait.
SCHEDULE = events.Schedule.cron(hour="3", minute="0")
START_WINDOW = Duration.hours(8)
COMPLETION_WINDOW = Duration.days(1)


class DatabaseBackup(Construct):
    """A vault encrypted with ``key``, and a plan that copies ``instance`` into it every day and
    keeps each copy ``retention_days``, as ``plan_name``. With ``lock_min_retention_days``, the
    vault is locked in compliance mode after ``LOCK_GRACE``: no copy can be deleted before that
    many days, by anyone, and the lock never changes again."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        instance: rds.DatabaseInstance,
        key: kms.IKey,
        plan_name: str,
        retention_days: int,
        lock_min_retention_days: int | None = None,
    ) -> None:
        if lock_min_retention_days is not None and retention_days < lock_min_retention_days:
            raise ValueError(
                f"backups kept {retention_days} days fail in a vault locked at "
                f"{lock_min_retention_days}"
            )
        super().__init__(scope, construct_id)
        # Kept when the stack goes (a vault with recovery points cannot be deleted anyway), and
        # its access policy refuses every principal the deletion of a recovery point or a
        # change of its lifecycle. Not kept after a failed first create: CDK derives its name
        # from its path, so an orphaned empty vault would make every retry fail on the name.
        self.vault = backup.BackupVault(
            self,
            "Vault",
            encryption_key=key,
            block_recovery_point_deletion=True,
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
            # The access policy above can be changed by whoever may change the vault; the lock,
            # once its grace period is over, by no one, not even to raise its minimum: the
            # minimum is the one it was locked with (EnvironmentConfig.backup_vault_lock_days),
            # whatever the sizing becomes. A job kept shorter than the minimum would fail.
            lock_configuration=(
                backup.LockConfiguration(
                    min_retention=Duration.days(lock_min_retention_days),
                    changeable_for=LOCK_GRACE,
                )
                if lock_min_retention_days is not None
                else None
            ),
        )
        # Named: CDK would name every environment's plan "Plan" (its construct id), the same
        # name for each environment of an account in its console and CLI. A name is updated in
        # place, the plan and its selection kept.
        self.plan = backup.BackupPlan(
            self,
            "Plan",
            backup_plan_name=plan_name,
            backup_vault=self.vault,
            backup_plan_rules=[
                backup.BackupPlanRule(
                    rule_name="Daily",
                    schedule_expression=SCHEDULE,
                    start_window=START_WINDOW,
                    completion_window=COMPLETION_WINDOW,
                    delete_after=Duration.days(retention_days),
                )
            ],
        )
        selection = self.plan.add_selection(
            "Database",
            resources=[backup.BackupResource.from_rds_database_instance(instance)],
        )
        # AWS Backup snapshots the instance with this role and AWS's policy made for it.
        acknowledge(selection.node.find_child("Role"), BACKUP_SERVICE_ROLE)
