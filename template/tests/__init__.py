"""The stacks' tests: properties, through aws_cdk.assertions, with the cdk-nag gate on."""

import os

# aws-cdk-lib's own CloudFormation validation (`validateAgainstDefaultRules` in cdk.json) runs
# in `cdk synth --strict`, which scripts/check and CI run right after these tests. Here it
# would take about a third of the session (its rules engine, every template again) to check
# nothing the tests assert. Set before conftest.py imports aws_cdk: the jsii runtime reads it
# when it starts. `CDK_VALIDATION=true uv run pytest` runs it here too.
os.environ.setdefault("CDK_VALIDATION", "false")
