"""Phase 2, the state: where this service's infrastructure state lives and how deploys are
serialized.

The production guide keeps Terraform state in S3 with a lock. With CDK:
- CloudFormation holds the state: each stack's deployed template and resources live in the
  account, so no laptop or runner keeps anything that can be lost.
- The CDK bootstrap stack (one per account and region, named by this service's qualifier)
  holds the assets (the S3 bucket for templates, the ECR repository for the service image)
  and the roles deploys assume.
- CloudFormation refuses a second update of a stack while one is in progress (the lock), and
  the deploy workflow adds a GitHub ``concurrency`` group per environment with
  ``cancel-in-progress: false`` so that runs queue instead of colliding.
"""

from aws_cdk import DefaultStackSynthesizer

# The roles `cdk bootstrap` creates; the pipeline assumes them and nothing else.
DEPLOY_BOOTSTRAP_ROLES = ("deploy", "file-publishing", "image-publishing", "lookup")


def bootstrap_synthesizer(qualifier: str) -> DefaultStackSynthesizer:
    """Synthesize against the bootstrap stack created with ``--qualifier <qualifier>``."""
    return DefaultStackSynthesizer(qualifier=qualifier)


def bootstrap_role_arn(kind: str, *, qualifier: str, account: str, region: str) -> str:
    """The ARN of a role created by ``cdk bootstrap --qualifier <qualifier>``."""
    return f"arn:aws:iam::{account}:role/cdk-{qualifier}-{kind}-role-{account}-{region}"
