"""Phase 2, the state: where this service's infrastructure state lives and how deploys are
serialized.

The production guide keeps Terraform state in S3 with a lock. With CDK:
- CloudFormation holds the state: each stack's deployed template and resources live in the
  account, so no laptop or runner keeps anything that can be lost.
- The CDK bootstrap stack of each environment (``CDKToolkit-<qualifier>``, one qualifier per
  environment, see ``EnvironmentConfig.cdk_qualifier``) holds the assets (the S3 bucket for
  templates, the ECR repository for the service image) and the roles deploys assume. Its
  CloudFormation execution role gets only ``execution_policy.py``'s policy, never
  AdministratorAccess.
- CloudFormation refuses a second update of a stack while one is in progress (the lock), and
  the deploy workflow adds a GitHub ``concurrency`` group per environment with
  ``cancel-in-progress: false`` so that runs queue instead of colliding.
"""

from aws_cdk import CliCredentialsStackSynthesizer, DefaultStackSynthesizer

# The roles `cdk bootstrap` creates that a deploy assumes: the pipeline assumes these and
# nothing else. (The lookup role reads the whole account; nothing of ours assumes it.)
DEPLOY_BOOTSTRAP_ROLES = ("deploy", "file-publishing", "image-publishing")


def bootstrap_synthesizer(qualifier: str) -> DefaultStackSynthesizer:
    """Deploy through the bootstrap roles of ``cdk bootstrap --qualifier <qualifier>``."""
    return DefaultStackSynthesizer(qualifier=qualifier)


def administrator_synthesizer(qualifier: str) -> CliCredentialsStackSynthesizer:
    """Deploy with the credentials of whoever runs `cdk deploy` (an administrator), not
    through the bootstrap roles, whose execution policy may not touch this stack."""
    return CliCredentialsStackSynthesizer(qualifier=qualifier)


def bootstrap_role_arn(kind: str, *, qualifier: str, account: str, region: str) -> str:
    """The ARN of a role created by ``cdk bootstrap --qualifier <qualifier>``."""
    return f"arn:aws:iam::{account}:role/cdk-{qualifier}-{kind}-role-{account}-{region}"
