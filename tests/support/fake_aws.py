"""A stand-in for the AWS CLI, for the README's bootstrap commands: `aws iam create-policy
--policy-name <name> --policy-document file://<path>`, sent to the AWS-protocol server at
`AWS_ENDPOINT_URL` (moto's, in the tests) with boto3, as the CLI would send it. Anything else is
an error, so that a change to those commands fails their test instead of passing against a fake
that guesses.

Run as `python fake_aws.py <aws arguments>` (the test puts an `aws` script on PATH that does so).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import boto3


def main(arguments: list[str]) -> int:
    if arguments[:2] != ["iam", "create-policy"] or len(arguments) != 6:
        raise SystemExit(f"fake aws: not a command of the README's bootstrap: {arguments}")
    options = dict(zip(arguments[2::2], arguments[3::2], strict=True))
    if set(options) != {"--policy-name", "--policy-document"}:
        raise SystemExit(f"fake aws: unknown options {sorted(options)}")
    document = options["--policy-document"]
    if not document.startswith("file://"):
        raise SystemExit("fake aws: the README passes the document as file://<path>")
    # IAM is global: the AWS CLI signs its requests for us-east-1 whatever the region.
    iam = boto3.client("iam", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
    iam.create_policy(
        PolicyName=options["--policy-name"],
        PolicyDocument=Path(document.removeprefix("file://")).read_text(),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
