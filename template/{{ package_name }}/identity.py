"""Phase 1, security first: GitHub Actions reaches AWS through OIDC, with no stored keys.

Each environment's deploy role can do one thing: assume the CDK bootstrap roles of that
environment's qualifier, whose CloudFormation execution role holds only the scoped policy of
``execution_policy.py``. The diff role reads this service's stacks in its environment and
nothing else. An administrator deploys this stack with their own credentials
(``state.administrator_synthesizer``): no role of the pipeline can change it.
"""

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from . import permissions_boundary
from .acknowledgements import (
    DIFF_ROLE_READS_ITS_STACKS,
    DRIFT_ROLE_READS_CONFIGURATION,
    DRIFT_ROLE_READS_ITS_STACKS,
    PERMISSIONS_BOUNDARY_ACTIONS,
    PERMISSIONS_BOUNDARY_RESOURCES,
)
from .config import EnvironmentConfig, ServiceConfig
from .default_policy import default_policy
from .drift import DETECTION_STATUS_ACTION, READ_ACTIONS, STACK_DRIFT_ACTIONS, drift_subjects
from .phase import PhaseSettings, PhaseStack
from .policy import acknowledge
from .state import DEPLOY_BOOTSTRAP_ROLES, bootstrap_role_arn

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_AUDIENCE = "sts.amazonaws.com"
# What `cdk diff --method template` reads of a deployed stack (and of its nested stacks).
STACK_READ_ACTIONS = (
    "cloudformation:DescribeStacks",
    "cloudformation:GetTemplate",
    "cloudformation:ListStackResources",
    "cloudformation:DescribeStackResources",
)


def deploy_subjects(subject_prefix: str, environment: str) -> list[str]:
    """The `sub` claims of the deploy workflow's jobs for one environment.

    A job that names a GitHub environment presents `environment:<name>`, not its branch.
    """
    return [f"{subject_prefix}:environment:{environment}"]


def pull_request_subjects(subject_prefix: str) -> list[str]:
    """The `sub` claim of a job triggered by a pull request."""
    return [f"{subject_prefix}:pull_request"]


class GithubOidcProvider(Construct):
    """The account's GitHub OIDC provider: created natively, or imported when it exists."""

    def __init__(self, scope: Construct, construct_id: str, *, create: bool) -> None:
        super().__init__(scope, construct_id)
        account = Stack.of(self).account
        if create:
            # Native AWS::IAM::OIDCProvider: no custom resource; AWS validates GitHub's
            # certificate itself, so no thumbprint is pinned.
            self.provider: iam.IOidcProvider = iam.OidcProviderNative(
                self,
                "Provider",
                url=f"https://{GITHUB_OIDC_HOST}",
                client_ids=[GITHUB_OIDC_AUDIENCE],
            )
            # Other stacks of the account trust it (other environments and services): removing
            # this environment must not take it away from them. A failed first create still
            # rolls it back, so that the next deploy can create it.
            self.provider.apply_removal_policy(RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE)
        else:
            self.provider = iam.OidcProviderNative.from_oidc_provider_arn(
                self,
                "Provider",
                f"arn:aws:iam::{account}:oidc-provider/{GITHUB_OIDC_HOST}",
            )


class GithubRole(Construct):
    """A role that only the given workflow subjects can assume, with exactly one statement
    of permissions."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        provider: iam.IOidcProvider,
        role_name: str,
        subjects: list[str],
        permissions: iam.PolicyStatement,
        description: str,
        max_session_duration: Duration,
    ) -> None:
        super().__init__(scope, construct_id)
        principal = iam.WebIdentityPrincipal(
            provider.oidc_provider_arn,
            conditions={
                "StringEquals": {
                    f"{GITHUB_OIDC_HOST}:aud": GITHUB_OIDC_AUDIENCE,
                    f"{GITHUB_OIDC_HOST}:sub": subjects,
                },
            },
        )
        # A fixed name: the workflows build this ARN from the account id and service name.
        self.role = iam.Role(
            self,
            "Role",
            role_name=role_name,
            assumed_by=principal,
            description=description,
            max_session_duration=max_session_duration,
        )
        self.role.add_to_policy(permissions)


class IdentityStack(PhaseStack):
    """GitHub OIDC and the pipeline's roles. Deployed once by an administrator."""

    def __init__(
        self,
        scope: Construct,
        *,
        phase: PhaseSettings,
        service: ServiceConfig,
        environment: EnvironmentConfig,
    ) -> None:
        super().__init__(scope, phase=phase)
        oidc = GithubOidcProvider(
            self, "GithubOidc", create=service.creates_oidc_provider(environment)
        )
        deploy = GithubRole(
            self,
            "GithubDeploy",
            provider=oidc.provider,
            role_name=service.resource_name(environment, "github-deploy"),
            subjects=deploy_subjects(service.github.subject_prefix, environment.name),
            permissions=iam.PolicyStatement(
                sid="AssumeThisEnvironmentsCdkBootstrapRoles",
                actions=["sts:AssumeRole", "sts:TagSession"],
                resources=[
                    bootstrap_role_arn(
                        kind,
                        qualifier=environment.cdk_qualifier,
                        account=environment.account,
                        region=environment.region,
                    )
                    for kind in DEPLOY_BOOTSTRAP_ROLES
                ],
            ),
            description=f"GitHub Actions deploys {service.name} to {environment.name}",
            # The workflow's deploy job may run up to two hours (a Multi-AZ database).
            max_session_duration=Duration.hours(2),
        )
        CfnOutput(self, "DeployRoleArn", value=deploy.role.role_arn)

        if service.github.enable_pr_diff:
            diff = GithubRole(
                self,
                "GithubDiff",
                provider=oidc.provider,
                role_name=service.resource_name(environment, "github-diff"),
                subjects=pull_request_subjects(service.github.subject_prefix),
                permissions=iam.PolicyStatement(
                    sid="ReadThisServicesStacks",
                    actions=list(STACK_READ_ACTIONS),
                    resources=[service.stacks_arn_pattern(environment)],
                ),
                description=f"Pull requests read {service.name}'s {environment.name} stacks",
                max_session_duration=Duration.hours(1),
            )
            acknowledge(
                default_policy(diff.role),
                DIFF_ROLE_READS_ITS_STACKS,
                resource=service.stacks_arn_pattern(environment),
            )
            CfnOutput(self, "DiffRoleArn", value=diff.role.role_arn)

        if service.github.enable_drift_detection:
            self._add_drift_role(service, environment, oidc.provider)

        if service.permissions_boundary:
            # Here, where only an administrator deploys: the pipeline cannot loosen it.
            boundary = iam.ManagedPolicy(
                self,
                "PermissionsBoundary",
                managed_policy_name=service.permissions_boundary_name(environment),
                description=(
                    f"The most any role of {service.name}'s {environment.name} stacks may do"
                ),
                document=iam.PolicyDocument.from_json(
                    permissions_boundary.document(service, environment)
                ),
            )
            acknowledge(boundary, PERMISSIONS_BOUNDARY_ACTIONS, PERMISSIONS_BOUNDARY_RESOURCES)

    def _add_drift_role(
        self, service: ServiceConfig, environment: EnvironmentConfig, provider: iam.IOidcProvider
    ) -> None:
        """The scheduled drift check's role: drift detection on this environment's stacks,
        and the read actions it needs on their resources (drift.py says which, and why)."""
        drift = GithubRole(
            self,
            "GithubDrift",
            provider=provider,
            role_name=service.resource_name(environment, "github-drift"),
            subjects=drift_subjects(service.github.subject_prefix),
            permissions=iam.PolicyStatement(
                sid="DetectDriftOnThisServicesStacks",
                actions=list(STACK_DRIFT_ACTIONS),
                resources=[service.stacks_arn_pattern(environment)],
            ),
            description=f"Scheduled drift check reads {service.name}'s {environment.name} stacks",
            max_session_duration=Duration.hours(1),
        )
        drift.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadTheConfigurationDriftDetectionCompares",
                actions=[DETECTION_STATUS_ACTION, *READ_ACTIONS],
                resources=["*"],
            )
        )
        policy = default_policy(drift.role)
        acknowledge(
            policy, DRIFT_ROLE_READS_ITS_STACKS, resource=service.stacks_arn_pattern(environment)
        )
        acknowledge(policy, DRIFT_ROLE_READS_CONFIGURATION)
        CfnOutput(self, "DriftRoleArn", value=drift.role.role_arn)
