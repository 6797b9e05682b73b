"""What the scheduled drift check (`.github/workflows/drift.yml`) may do: read, never write.

`cdk drift` starts CloudFormation's drift detection on each stack of an environment and reads
its results. CloudFormation then reads every resource's live configuration *with the caller's
permissions*: the caller needs "read permission for each resource that supports drift
detection", besides cloudformation:DetectStackDrift and DetectStackResourceDrift (AWS
CloudFormation User Guide, "Considerations when detecting drift"). The CDK CLI reads with the
credentials it is given (no bootstrap role; aws-cdk 2.1148's drift action asks the SDK for the
environment "for reading" without a role to assume).

The drift role therefore gets the read actions that CloudFormation's resource schemas list as
each type's read handler (the schemas cfn-lint ships; a rendered test keeps this list equal to
them for every type the stacks contain), minus WITHHELD: reading a secret's value, decrypting,
and the write actions some read handlers also list. AWS's ReadOnlyAccess policy was the other
choice: it would follow new types without a change here, but it reads data across the whole
account (S3 objects, log events, queue attributes of every service), which this role must not.
"""

# The CloudFormation calls of drift detection on this environment's stacks.
STACK_DRIFT_ACTIONS = (
    "cloudformation:DetectStackDrift",
    "cloudformation:DetectStackResourceDrift",
    "cloudformation:DescribeStackResourceDrifts",
)
# A detection's status is read by its id: no resource-level permission.
DETECTION_STATUS_ACTION = "cloudformation:DescribeStackDriftDetectionStatus"

# The read handlers' actions of every resource type the stacks contain (identity included), as
# the CloudFormation resource schemas list them, minus WITHHELD. None has resource-level
# scoping that would hold across all of them: they are granted on '*'. They describe, get or
# list configuration, but on every resource of the account, and some configuration tells
# more: lambda:GetFunction gives any function's environment variables and a link to its code,
# s3:ListBucket any bucket's object keys. Scoping those to this service's generated names is
# not done yet: an unreadable resource would leave its stack's detection incomplete.
READ_ACTIONS = (
    "acm:DescribeCertificate",
    "acm:ListTagsForCertificate",
    "application-autoscaling:DescribeScalableTargets",
    "application-autoscaling:DescribeScalingPolicies",
    "application-autoscaling:DescribeScheduledActions",
    "application-autoscaling:ListTagsForResource",
    "backup:DescribeBackupVault",
    "backup:GetBackupPlan",
    "backup:GetBackupSelection",
    "backup:GetBackupVaultAccessPolicy",
    "backup:GetBackupVaultNotifications",
    "backup:ListTags",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:ListTagsForResource",
    "ec2:DescribeAccountAttributes",
    "ec2:DescribeAddresses",
    "ec2:DescribeAvailabilityZones",
    "ec2:DescribeFlowLogs",
    "ec2:DescribeInternetGateways",
    "ec2:DescribeNatGateways",
    "ec2:DescribeNetworkAcls",
    "ec2:DescribeRouteTables",
    "ec2:DescribeSecurityGroupRules",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcAttribute",
    "ec2:DescribeVpcEncryptionControls",
    "ec2:DescribeVpcs",
    "ec2:DescribeVpnGateways",
    "ecs:DescribeClusters",
    "ecs:DescribeServices",
    "ecs:DescribeTaskDefinition",
    "elasticache:DescribeCacheSubnetGroups",
    "elasticache:DescribeReplicationGroups",
    "elasticache:ListTagsForResource",
    "elasticloadbalancing:DescribeCapacityReservation",
    "elasticloadbalancing:DescribeListenerAttributes",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeLoadBalancerAttributes",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeRules",
    "elasticloadbalancing:DescribeTags",
    "elasticloadbalancing:DescribeTargetGroupAttributes",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetHealth",
    "elasticloadbalancing:GetLoadBalancerWebACL",
    "events:DescribeRule",
    "events:ListTagsForResource",
    "events:ListTargetsByRule",
    "iam:GetOpenIDConnectProvider",
    "iam:GetPolicy",
    "iam:GetPolicyVersion",
    "iam:GetRole",
    "iam:GetRolePolicy",
    "iam:ListAttachedRolePolicies",
    "iam:ListEntitiesForPolicy",
    "iam:ListPolicyVersions",
    "iam:ListRolePolicies",
    "kms:DescribeKey",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListResourceTags",
    "lambda:GetFunction",
    "lambda:GetFunctionCodeSigningConfig",
    "lambda:GetFunctionRecursionConfig",
    "lambda:GetFunctionScalingConfig",
    "lambda:GetPolicy",
    "lambda:GetRuntimeManagementConfig",
    "logs:DescribeIndexPolicies",
    "logs:DescribeLogGroups",
    "logs:DescribeMetricFilters",
    "logs:DescribeResourcePolicies",
    "logs:GetDataProtectionPolicy",
    "logs:ListTagsForResource",
    "rds:DescribeDBInstances",
    "rds:DescribeDBSubnetGroups",
    "rds:ListTagsForResource",
    "route53:GetHostedZone",
    "route53:ListHostedZones",
    "route53:ListResourceRecordSets",
    "s3:GetAccelerateConfiguration",
    "s3:GetAnalyticsConfiguration",
    "s3:GetBucketAbac",
    "s3:GetBucketCORS",
    "s3:GetBucketLogging",
    "s3:GetBucketMetadataTableConfiguration",
    "s3:GetBucketNotification",
    "s3:GetBucketObjectLockConfiguration",
    "s3:GetBucketOwnershipControls",
    "s3:GetBucketPolicy",
    "s3:GetBucketPublicAccessBlock",
    "s3:GetBucketTagging",
    "s3:GetBucketVersioning",
    "s3:GetBucketWebsite",
    "s3:GetEncryptionConfiguration",
    "s3:GetIntelligentTieringConfiguration",
    "s3:GetInventoryConfiguration",
    "s3:GetLifecycleConfiguration",
    "s3:GetMetricsConfiguration",
    "s3:GetReplicationConfiguration",
    # Lists the access-log bucket's object names (never their content).
    "s3:ListBucket",
    "s3:ListTagsForResource",
    "scheduler:GetSchedule",
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetResourcePolicy",
    "sns:GetDataProtectionPolicy",
    "sns:GetSubscriptionAttributes",
    "sns:GetTopicAttributes",
    "sns:ListSubscriptionsByTopic",
    "sns:ListTagsForResource",
    "sqs:GetQueueAttributes",
    "sqs:ListQueueTags",
    "states:DescribeStateMachine",
    "states:ListTagsForResource",
    "wafv2:GetLoggingConfiguration",
    "wafv2:GetWebACL",
    "wafv2:GetWebACLForResource",
    "wafv2:ListTagsForResource",
)

# What read handlers list that the role never gets, and why. Drift detection compares what it
# can read; since August 2025 CloudFormation reports a resource it cannot read as UNKNOWN (with
# a DriftStatusReason) instead of failing the stack's detection (aws/aws-cdk-cli#740, quoting
# CloudFormation's announcement), and `cdk drift` counts it as unchecked ("Number of resources
# with drift: 0 (3 unchecked)"), never as in sync with a value it did not see. The secrets'
# values are what they are for; their metadata (rotation, key, policy) is still compared.
WITHHELD: dict[str, str] = {
    "secretsmanager:GetSecretValue": "a secret's value: the role reads no credential",
    "kms:Decrypt": "decrypts data (a Lambda function's or state machine's encrypted settings)",
    "iam:PassRole": "hands a role to a service: a change, not a read",
}
# The WAF association's read handler lists the calls for every kind of resource WAF can
# protect; the stacks attach WAF to a load balancer only.
WITHHELD_OTHER_SERVICES = (
    "amplify:",
    "apigateway:",
    "apprunner:",
    "appsync:",
    "bedrock-agentcore:",
    "cognito-idp:",
    "ec2:AssociateVerifiedAccessInstanceWebAcl",
    "ec2:DescribeVerifiedAccessInstanceWebAclAssociations",
    "ec2:DisassociateVerifiedAccessInstanceWebAcl",
    "ec2:GetVerifiedAccessInstanceWebAcl",
)
# Every action the role holds starts with one of these (after its service prefix).
READ_VERBS = ("Describe", "Get", "List", "Detect")


def is_read(action: str) -> bool:
    """Whether an IAM action only reads (by the verb AWS names its read actions with)."""
    return action.split(":", 1)[1].startswith(READ_VERBS)


def drift_subjects(subject_prefix: str) -> list[str]:
    """The `sub` claim of the drift workflow's jobs: they run in the `drift` GitHub
    environment, whose deployment branches are the default branch only (README)."""
    return [f"{subject_prefix}:environment:{DRIFT_ENVIRONMENT}"]


DRIFT_ENVIRONMENT = "drift"
