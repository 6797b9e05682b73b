"""The permissions boundary of this environment's CDK bootstrap roles.

`cdk bootstrap` gives each deploy role CloudFormation's write actions (change sets, stack
creation, update, deletion, refactoring) on every stack of the account, and CloudFormation
runs a change set started without a role with the role the stack was deployed with ("uses
this role even if the users don't have permission to pass it": CreateChangeSet's `RoleARN`).
In an account that holds several environments, or several services, a push to one
environment's branch could then change another's stacks, with that one's execution role and
without its reviewers.

This managed policy, passed to `cdk bootstrap` with `--custom-permissions-boundary` and
`--apply-permissions-boundary-to-all-roles`, caps every role of the environment's bootstrap
stack (deploy, file and image publishing, lookup and CloudFormation execution): whatever their
own policies allow, CloudFormation writes reach only this environment's stacks
(`<Service>-<Env>-*`), and none of them can change this policy or remove it from a bootstrap
role. It bounds this environment's roles only: a bootstrap without it in the same account
(another team's, or CDK's default) still reaches every stack, so production keeps an account
of its own where it can.

An administrator creates it before bootstrapping (README: "First deploy"):

    uv run python -m <package>.bootstrap_boundary <environment> > bootstrap-boundary.json
"""

import json
import sys
from typing import Any

from .config import EnvironmentConfig, ServiceConfig

# Every CloudFormation action that writes a stack which CDK's bootstrap template (v33) grants
# its roles: the deploy role's DeployPermissions, CliPermissions and Refactor statements. Each
# authorizes on the stack (the Service Authorization Reference; cfn-lint's Policies.json).
# tests/test_bootstrap_boundary.py fails when the pinned CLI's template grants another one.
STACK_WRITE_ACTIONS = (
    "cloudformation:CreateChangeSet",
    "cloudformation:DeleteChangeSet",
    "cloudformation:ExecuteChangeSet",
    "cloudformation:CreateStack",
    "cloudformation:UpdateStack",
    "cloudformation:RollbackStack",
    "cloudformation:ContinueUpdateRollback",
    "cloudformation:DeleteStack",
    "cloudformation:UpdateTerminationProtection",
    "cloudformation:CreateStackRefactor",
    "cloudformation:ExecuteStackRefactor",
)
# IAM writes that would change or drop the boundary itself.
POLICY_WRITE_ACTIONS = (
    "iam:CreatePolicyVersion",
    "iam:DeletePolicy",
    "iam:DeletePolicyVersion",
    "iam:SetDefaultPolicyVersion",
)
ROLE_BOUNDARY_ACTIONS = ("iam:DeleteRolePermissionsBoundary", "iam:PutRolePermissionsBoundary")


def policy_name(service: ServiceConfig, environment: EnvironmentConfig) -> str:
    """'orders-api-prod-cdk-bootstrap-boundary'."""
    return service.resource_name(environment, "cdk-bootstrap-boundary")


def policy_arn(service: ServiceConfig, environment: EnvironmentConfig) -> str:
    return f"arn:aws:iam::{environment.account}:policy/{policy_name(service, environment)}"


def document(service: ServiceConfig, environment: EnvironmentConfig) -> dict[str, Any]:
    """The boundary for one environment's bootstrap roles."""
    account, region = environment.account, environment.region
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                # A boundary allows nothing by itself: each role keeps what its own policies
                # (the bootstrap template's, the execution policy) allow, and no more.
                "Sid": "WhatTheRolesOwnPoliciesAllow",
                "Effect": "Allow",
                "Action": "*",
                "Resource": "*",
            },
            {
                # No trailing '/<id>': a stack that does not exist yet (the first deploy's
                # change set) has no id in the ARN IAM evaluates. AWS's transforms (such as
                # AWS::Serverless) are resources a change set of a template using one names.
                "Sid": "StacksOfThisEnvironmentOnly",
                "Effect": "Deny",
                "Action": list(STACK_WRITE_ACTIONS),
                "NotResource": [
                    f"arn:aws:cloudformation:{region}:{account}:stack/"
                    f"{service.stack_prefix}-{environment.pascal_name}-*",
                    f"arn:aws:cloudformation:{region}:aws:transform/*",
                ],
            },
            {
                "Sid": "ThisBoundaryStays",
                "Effect": "Deny",
                "Action": list(POLICY_WRITE_ACTIONS),
                "Resource": policy_arn(service, environment),
            },
            {
                "Sid": "OnEveryBootstrapRole",
                "Effect": "Deny",
                "Action": list(ROLE_BOUNDARY_ACTIONS),
                "Resource": f"arn:aws:iam::{account}:role/cdk-{environment.cdk_qualifier}-*",
            },
        ],
    }


def main(arguments: list[str]) -> int:
    from .environments import SERVICE

    names = [environment.name for environment in SERVICE.environments]
    if len(arguments) != 1 or arguments[0] not in names:
        print(f"usage: python -m {__package__}.bootstrap_boundary <{'|'.join(names)}>")
        return 2
    environment = next(e for e in SERVICE.environments if e.name == arguments[0])
    print(json.dumps(document(SERVICE, environment), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
