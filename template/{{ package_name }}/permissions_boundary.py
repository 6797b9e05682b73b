"""The permissions boundary of every role the pipeline's stacks create (`permissions_boundary`).

A change pushed to the repository can give a role of the stacks (`<Service>-<Env>-...`) any
policy and any trust: the execution policy cannot see inside the policies CloudFormation
writes. With the boundary, every such role must carry this managed policy, and the execution
policy refuses to create a role without it, to change a role's policies unless it carries it,
or to remove it. Whatever policy a role is then given, it can do only what this allows.

What the stacks' roles do at run time cannot be listed once for all (a task role grows with the
team's code; AWS Backup's managed policy alone spans a dozen services), so it allows everything
but what makes a role an administrator of the account:

- no IAM write of any kind: no user, group, role, policy, key or boundary created or changed;
- `iam:PassRole` only for this environment's own roles (the scheduler's role passes the task
  roles to ECS);
- no role of a CDK bootstrap stack assumed: they trust the whole account, and one of them
  deploys with the execution policy;
- nothing of AWS Organizations or the account's own settings;
- no code run under another principal's role without passing it: a Lambda function's code or
  configuration, an SSM command or session on an instance, a shell in an ECS task, a CodeBuild
  build or project, an instance's user data, a state machine's definition. The stacks' roles
  never do these at run time (CloudFormation does them, with the execution policy). The list
  is the common paths, not every service's: in a shared account, separate accounts remain the
  boundary.

The Identity stack, which an administrator deploys and the pipeline can never change, creates
it (identity.py); the execution policy also denies every IAM action on it.
"""

from typing import Any

from .config import EnvironmentConfig, ServiceConfig
from .execution_policy import role_name_prefix

# Every IAM action that creates or changes something (IAM's own verbs, from its Service
# Authorization Reference): reads, iam:PassRole and the policy simulator stay allowed.
IAM_WRITE_ACTIONS = (
    "iam:Add*",
    "iam:Attach*",
    "iam:Change*",
    "iam:Create*",
    "iam:Deactivate*",
    "iam:Delete*",
    "iam:Detach*",
    "iam:Enable*",
    "iam:Put*",
    "iam:Remove*",
    "iam:Reset*",
    "iam:Resync*",
    "iam:Set*",
    "iam:Tag*",
    "iam:Untag*",
    "iam:Update*",
    "iam:Upload*",
)
ACCOUNT_ACTIONS = ("account:*", "organizations:*")
# What runs code with another principal's role, and needs no iam:PassRole to do it.
OTHER_PRINCIPALS_CODE_ACTIONS = (
    "codebuild:StartBuild",
    "codebuild:StartBuildBatch",
    "codebuild:UpdateProject",
    "ec2:ModifyInstanceAttribute",
    "ecs:ExecuteCommand",
    "lambda:UpdateFunctionCode",
    "lambda:UpdateFunctionConfiguration",
    "ssm:SendCommand",
    "ssm:StartSession",
    "states:UpdateStateMachine",
)


def document(service: ServiceConfig, environment: EnvironmentConfig) -> dict[str, Any]:
    """The boundary's policy document for one environment."""
    iam = f"arn:aws:iam::{environment.account}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                # A ceiling, not a grant: a role does what its own policies allow, within this.
                "Sid": "AsMuchAsTheRolesOwnPolicies",
                "Effect": "Allow",
                "Action": "*",
                "Resource": "*",
            },
            {
                "Sid": "NoIamWriteNorTheAccount",
                "Effect": "Deny",
                "Action": sorted([*IAM_WRITE_ACTIONS, *ACCOUNT_ACTIONS]),  # as CDK writes it
                "Resource": "*",
            },
            {
                "Sid": "NeverAnotherPrincipalsCode",
                "Effect": "Deny",
                "Action": sorted(OTHER_PRINCIPALS_CODE_ACTIONS),
                "Resource": "*",
            },
            {
                "Sid": "PassOnlyThisEnvironmentsRoles",
                "Effect": "Deny",
                "Action": "iam:PassRole",
                "NotResource": f"{iam}:role/{role_name_prefix(service, environment)}*",
            },
            {
                "Sid": "NeverABootstrapRole",
                "Effect": "Deny",
                "Action": ["sts:AssumeRole", "sts:TagSession"],
                "Resource": f"{iam}:role/cdk-*",
            },
        ],
    }
