"""The CloudFormation execution policy of this service's bootstrap stacks.

`cdk bootstrap` gives the role that CloudFormation deploys with AdministratorAccess unless it
is handed policies. This one allows the services the Network, Datastore and Compute stacks
use, IAM only on roles those stacks own, and denies everything on the Identity stack, its
GitHub roles and OIDC provider, the bootstrap stack, its roles, their permissions boundary
(bootstrap_boundary.py) and this policy itself, and any write to a CDK bootstrap's asset
bucket: a change pushed to the repository cannot change who may deploy, nor this policy, nor
the templates and assets a deploy reads.

What it does not stop: a role of the stacks' own (`<Service>-<Env>-...`) can be given any
permission and any trust by a pushed change. With `permissions_boundary`, such a role can do no
more than the boundary allows (no IAM write, no bootstrap role, nothing of the account:
permissions_boundary.py), which this policy makes every role carry; without it, a change to IAM
needs the same review as the code that ships with it (docs/security.md, "What the execution
policy does not stop").

An administrator creates it before bootstrapping (README: "First deploy"):

    uv run python -m <package>.execution_policy <environment> > execution-policy.json

A test checks that it covers every resource type the synthesized stacks contain.
"""

import json
import sys
from typing import Any

from . import bootstrap_boundary
from .config import EnvironmentConfig, ServiceConfig

# The service prefix of each CloudFormation type namespace the pipeline's stacks use. A new
# namespace fails tests/test_execution_policy.py until it is added here, after review.
SERVICE_OF_TYPE_NAMESPACE: dict[str, str] = {
    "AWS::ApplicationAutoScaling": "application-autoscaling",
    "AWS::Backup": "backup",
    "AWS::CertificateManager": "acm",
    "AWS::CloudWatch": "cloudwatch",
    "AWS::EC2": "ec2",
    "AWS::ECS": "ecs",
    "AWS::ElastiCache": "elasticache",
    "AWS::ElasticLoadBalancingV2": "elasticloadbalancing",
    "AWS::Events": "events",
    "AWS::KMS": "kms",
    "AWS::Lambda": "lambda",
    "AWS::Logs": "logs",
    "AWS::RDS": "rds",
    "AWS::Route53": "route53",
    "AWS::S3": "s3",
    "AWS::Scheduler": "scheduler",
    "AWS::SecretsManager": "secretsmanager",  # pragma: allowlist secret
    "AWS::SNS": "sns",
    "AWS::SQS": "sqs",
    "AWS::StepFunctions": "states",
    "AWS::WAFv2": "wafv2",
    # Custom resources run a Lambda function of the same stack.
    "Custom": "lambda",
}
# Actions a namespace's resources need beyond their service's own prefix: a backup vault
# encrypted with a customer managed key is created with backup-storage:MountCapsule (AWS
# Backup Developer Guide, "Backup vault creation and deletion", required permissions).
EXTRA_ACTIONS_OF_TYPE_NAMESPACE: dict[str, tuple[str, ...]] = {
    "AWS::Backup": ("backup-storage:MountCapsule",),
}
# What CloudFormation does to the roles (and their inline policies) the stacks own.
ROLE_ACTIONS = (
    "iam:AttachRolePolicy",
    "iam:CreateRole",
    "iam:DeleteRole",
    # Only to turn the permissions boundary off, with this policy published without it first.
    "iam:DeleteRolePermissionsBoundary",
    "iam:DeleteRolePolicy",
    "iam:DetachRolePolicy",
    "iam:GetRole",
    "iam:GetRolePolicy",
    "iam:ListAttachedRolePolicies",
    "iam:ListRolePolicies",
    "iam:PassRole",
    "iam:PutRolePermissionsBoundary",
    "iam:PutRolePolicy",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:UpdateRole",
    "iam:UpdateRoleDescription",
)


# What adds to a role's permissions: with a permissions boundary, refused on a role without it
# (the condition key is the request's boundary for CreateRole and PutRolePermissionsBoundary,
# the role's own for the others: IAM User Guide, "Permissions boundaries for IAM entities").
# Taking permissions away stays allowed: a deploy deletes roles made before the boundary.
BOUNDED_ROLE_ACTIONS = (
    "iam:AttachRolePolicy",
    "iam:CreateRole",
    "iam:PutRolePermissionsBoundary",
    "iam:PutRolePolicy",
)


# CloudFormation names a role it names itself '<stack>-<logical id>-<12 random>' and, past IAM's
# 64 characters, keeps only the first 25 characters of the stack's name. AWS does not document
# the rule; real names follow it (KensioSoftware/yulin#1113, three names it reproduces).
GENERATED_NAME_STACK_PART = 25


# No stack runs an EC2 instance or a launch template, and no handler of their resource types
# needs these (tests/test_execution_policy.py reads the resource schemas): with them, a
# template, or a resource of the account imported into a stack, could start code under any
# instance profile the account has.
INSTANCE_ACTIONS = (
    "ec2:RunInstances",
    "ec2:ModifyInstanceAttribute",
    "ec2:CreateLaunchTemplate",
    "ec2:CreateLaunchTemplateVersion",
    "ec2:ModifyLaunchTemplate",
)


def role_name_prefix(service: ServiceConfig, environment: EnvironmentConfig) -> str:
    """What every role of the environment's stacks is named with, even when CloudFormation cut
    the stack's name. Past 25 characters ('<Prefix>-<Env>-' of a service name near the
    longest), the prefix loses the environment's name: environments sharing an account then
    share this one statement (the denials below still hold)."""
    return f"{service.stack_prefix}-{environment.pascal_name}-"[:GENERATED_NAME_STACK_PART]


def policy_name(service: ServiceConfig, environment: EnvironmentConfig) -> str:
    return service.resource_name(environment, "cdk-execution")


def document(
    service: ServiceConfig, environment: EnvironmentConfig, *, adopting_boundary: bool = False
) -> dict[str, Any]:
    """The policy document for one environment's bootstrap stack. ``adopting_boundary``: the
    version for the one deploy that puts the permissions boundary on roles made before it
    (CloudFormation's order of calls on an existing role is not documented, so nothing of it
    may depend on the boundary being there yet); the boundary can still not be removed."""
    account, region = environment.account, environment.region
    iam = f"arn:aws:iam::{account}"
    stacks = f"arn:aws:cloudformation:{region}:{account}:stack"
    own_prefix = f"{service.stack_prefix}-{environment.pascal_name}-"
    # `cdk bootstrap`'s default names of file asset buckets: this qualifier's, and every other
    # one's (in a shared account, another environment's or another service's).
    assets_buckets = "arn:aws:s3:::cdk-*-assets-*"
    # DNS records change in the environment's own hosted zone only (its domain's: the alias to
    # the load balancer and the certificate's validation record), and nowhere without a
    # domain: a template could otherwise point any name of the account's zones anywhere.
    outside_the_environments_zone = (
        {"NotResource": f"arn:aws:route53:::hostedzone/{environment.domain.hosted_zone_id}"}
        if environment.domain is not None
        else {"Resource": "*"}
    )
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ServicesOfThePipelinesStacks",
                "Effect": "Allow",
                "Action": sorted({f"{p}:*" for p in SERVICE_OF_TYPE_NAMESPACE.values()}),
                "Resource": "*",
            },
            {
                "Sid": "WhatSomeOfThoseResourcesAlsoNeed",
                "Effect": "Allow",
                "Action": sorted(
                    {a for actions in EXTRA_ACTIONS_OF_TYPE_NAMESPACE.values() for a in actions}
                ),
                "Resource": "*",
            },
            {
                "Sid": "RolesOfThePipelinesStacks",
                "Effect": "Allow",
                "Action": list(ROLE_ACTIONS),
                "Resource": f"{iam}:role/{role_name_prefix(service, environment)}*",
            },
            {
                "Sid": "ServiceLinkedRoles",
                "Effect": "Allow",
                "Action": "iam:CreateServiceLinkedRole",
                "Resource": f"{iam}:role/aws-service-role/*",
            },
            {
                # Fn::GetStackOutput: the Datastore and Compute stacks read the outputs of this
                # environment's earlier stacks as this role (the function's RoleArn defaults
                # to the stack's execution role), at every deploy.
                "Sid": "ReadThisEnvironmentsStackOutputs",
                "Effect": "Allow",
                "Action": "cloudformation:DescribeStacks",
                "Resource": f"{stacks}/{own_prefix}*/*",
            },
            {
                # The stacks nest none now. Releases before 1.2.0 nested one per database
                # rotation (from the Serverless Application Repository): the first deploy of
                # this release deletes them.
                "Sid": "NestedStacks",
                "Effect": "Allow",
                "Action": "cloudformation:*",
                "Resource": f"{stacks}/{own_prefix}*/*",
            },
            {
                "Sid": "BootstrapVersionCheck",
                "Effect": "Allow",
                "Action": "ssm:GetParameters",
                "Resource": (
                    f"arn:aws:ssm:{region}:{account}:parameter/cdk-bootstrap/"
                    f"{environment.cdk_qualifier}/version"
                ),
            },
            {
                "Sid": "RecordsOnlyInTheEnvironmentsZone",
                "Effect": "Deny",
                "Action": "route53:ChangeResourceRecordSets",
                **outside_the_environments_zone,
            },
            {
                "Sid": "NoInstancesOrTheirStartupCode",
                "Effect": "Deny",
                "Action": list(INSTANCE_ACTIONS),
                "Resource": "*",
            },
            {
                # The file publishing roles write there, never CloudFormation: a template may
                # read a Lambda function's code from it, and change nothing in it.
                "Sid": "NeverABootstrapsAssets",
                "Effect": "Deny",
                "Action": ["s3:Put*", "s3:Delete*", "s3:Replicate*", "s3:Restore*"],
                "Resource": [assets_buckets, f"{assets_buckets}/*"],
            },
            {
                "Sid": "NeverTheIdentityBootstrapOrThisPolicy",
                "Effect": "Deny",
                "Action": ["iam:*", "cloudformation:*"],
                "Resource": [
                    f"{iam}:role/{service.resource_name(environment, 'github-')}*",
                    f"{iam}:oidc-provider/*",
                    f"{iam}:role/cdk-{environment.cdk_qualifier}-*",
                    f"{iam}:policy/{policy_name(service, environment)}",
                    f"{iam}:policy/{service.permissions_boundary_name(environment)}",
                    bootstrap_boundary.policy_arn(service, environment),
                    f"{stacks}/{service.stack_name(environment, 'Identity')}/*",
                    f"{stacks}/CDKToolkit-{environment.cdk_qualifier}/*",
                ],
            },
            *(
                boundary_statements(service, environment, adopting=adopting_boundary)
                if service.permissions_boundary
                else []
            ),
        ],
    }


def boundary_statements(
    service: ServiceConfig, environment: EnvironmentConfig, *, adopting: bool = False
) -> list[dict[str, Any]]:
    """No role of the stacks without the permissions boundary (permissions_boundary.py):
    none created without it, none whose policies grow while it lacks it, and the boundary
    never removed. While ``adopting``, only the last."""
    roles = f"arn:aws:iam::{environment.account}:role/{role_name_prefix(service, environment)}*"
    stays = {
        "Sid": "TheBoundaryStays",
        "Effect": "Deny",
        "Action": "iam:DeleteRolePermissionsBoundary",
        "Resource": roles,
    }
    if adopting:
        return [stays]
    return [
        {
            "Sid": "EveryRoleCarriesTheBoundary",
            "Effect": "Deny",
            "Action": list(BOUNDED_ROLE_ACTIONS),
            "Resource": roles,
            "Condition": {
                "StringNotEquals": {
                    "iam:PermissionsBoundary": service.permissions_boundary_arn(environment)
                }
            },
        },
        stays,
    ]


def main(arguments: list[str]) -> int:
    from .environments import SERVICE

    names = [environment.name for environment in SERVICE.environments]
    adopting = "--adopting-boundary" in arguments
    chosen = [argument for argument in arguments if argument != "--adopting-boundary"]
    if (
        len(chosen) != 1
        or chosen[0] not in names
        or (adopting and not SERVICE.permissions_boundary)
    ):
        print(
            f"usage: python -m {__package__}.execution_policy <{'|'.join(names)}>"
            " [--adopting-boundary, with permissions_boundary: for the deploy that adopts it]"
        )
        return 2
    environment = next(e for e in SERVICE.environments if e.name == chosen[0])
    print(json.dumps(document(SERVICE, environment, adopting_boundary=adopting), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
