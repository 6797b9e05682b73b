"""The service's SQS queues: state, so they live in the Datastore stack (termination
protection, kept when a stack or the worker goes away), encrypted with the stack's key.

- ``WorkQueue``: what the worker consumes, and its dead-letter queue. A message received
  ``max_receive_count`` times without being deleted moves to the dead-letter queue, which
  accepts messages from this queue alone and sends them back to it on a redrive.
- ``job_dead_letters``: where EventBridge Scheduler puts the invocations of a scheduled job it
  could not start, after its retries.

Roles of the Compute stack get their access through ``allow_sending`` and ``allow_consuming``:
statements in their own policies, with the key usable only through SQS. A grant through the
key would write those roles into the key's policy here, and the Datastore stack would then
depend on the Compute stack (a cycle; task.py does the same for the secrets).
"""

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .acknowledgements import JOB_DEAD_LETTERS
from .policy import acknowledge

# How long a received message stays invisible to other consumers. The sample worker extends
# it while it works on a message (service/README.md, "Worker"), so it bounds how long a
# message waits after a worker stopped without deleting it, not how long work may take.
VISIBILITY_TIMEOUT = Duration.seconds(60)
# Consumers wait this long on an empty queue (long polling: fewer empty, billed receives).
RECEIVE_WAIT = Duration.seconds(20)
# A message's age counts from when it was first sent, in the dead-letter queue too: keep dead
# letters the longest SQS allows, so that a redrive after a long weekend still finds them.
RETENTION = Duration.days(4)
DEAD_LETTER_RETENTION = Duration.days(14)
# Kept on update and delete (their messages are the service's state), removed only when the
# first create of their stack rolls back, so a retried deploy finds no leftovers.
REMOVAL_POLICY = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE


def _queue_arn(scope: Construct, queue_name: str) -> str:
    return Stack.of(scope).format_arn(
        service="sqs", resource=queue_name, arn_format=ArnFormat.NO_RESOURCE_NAME
    )


def _through_sqs(scope: Construct) -> dict[str, dict[str, str]]:
    """The condition that lets a role use the key for SQS messages and for nothing else."""
    return {"StringEquals": {"kms:ViaService": f"sqs.{Stack.of(scope).region}.amazonaws.com"}}


class WorkQueue(Construct):
    """The worker's queue and its dead-letter queue, both encrypted with ``key``.

    The queue has a fixed name (``queue_name``): the dead-letter queue's redrive allow policy
    names it by ARN, and a reference to the queue itself would make the two depend on each
    other (the queue's redrive policy already names the dead-letter queue)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        queue_name: str,
        key: kms.IKey,
        max_receive_count: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = key
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=DEAD_LETTER_RETENTION,
            # Only the work queue may dead-letter here, and a redrive returns messages to it.
            redrive_allow_policy=sqs.RedriveAllowPolicy(
                redrive_permission=sqs.RedrivePermission.BY_QUEUE,
                source_queues=[
                    sqs.Queue.from_queue_arn(self, "Source", _queue_arn(self, queue_name))
                ],
            ),
            removal_policy=REMOVAL_POLICY,
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            queue_name=queue_name,
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            visibility_timeout=VISIBILITY_TIMEOUT,
            receive_message_wait_time=RECEIVE_WAIT,
            retention_period=RETENTION,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letters, max_receive_count=max_receive_count
            ),
            removal_policy=REMOVAL_POLICY,
        )

    def allow_sending(self, role: iam.IRole) -> None:
        """Send messages, nothing else (an SQS producer also needs the key's data keys)."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="SendToTheWorkQueue",
                actions=["sqs:SendMessage"],
                resources=[self.queue.queue_arn],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="EncryptMessagesThroughSqs",
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[self.key.key_arn],
                conditions=_through_sqs(self),
            )
        )

    def allow_consuming(self, role: iam.IRole) -> None:
        """Receive, delete and extend the visibility of messages, nothing else."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ConsumeTheWorkQueue",
                actions=[
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:ChangeMessageVisibility",
                ],
                resources=[self.queue.queue_arn],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="DecryptMessagesThroughSqs",
                actions=["kms:Decrypt"],
                resources=[self.key.key_arn],
                conditions=_through_sqs(self),
            )
        )


class JobDeadLetters(Construct):
    """The dead-letter queue of every scheduled job: an invocation EventBridge Scheduler could
    not deliver (ecs:RunTask failed) after its retries, with the error as message attributes."""

    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.key = key
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=DEAD_LETTER_RETENTION,
            # No queue may use it as its dead-letter queue: it is the Scheduler's.
            redrive_allow_policy=sqs.RedriveAllowPolicy(
                redrive_permission=sqs.RedrivePermission.DENY_ALL
            ),
            removal_policy=REMOVAL_POLICY,
        )
        acknowledge(self.queue, JOB_DEAD_LETTERS)

    def allow_sending(self, role: iam.IRole) -> None:
        """What the Scheduler's role needs to dead-letter an invocation."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="DeadLetterFailedInvocations",
                actions=["sqs:SendMessage"],
                resources=[self.queue.queue_arn],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="EncryptDeadLettersThroughSqs",
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[self.key.key_arn],
                conditions=_through_sqs(self),
            )
        )
