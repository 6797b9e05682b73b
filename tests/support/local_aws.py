"""Commands the READMEs show, run against moto's server (from PyPI; no AWS is reachable here)
instead of AWS: the environment they run in."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Any credentials do for moto's server; the CDK CLI, the AWS CLI and boto3 refuse to sign
# without some.
LOCAL_KEY_ID, LOCAL_SECRET = "testing", "testing"  # pragma: allowlist secret


def cli_environment(endpoint: str, region: str) -> dict[str, str]:
    """This process's environment, with the AWS CLI of this repository's environment first on
    the PATH, sending every request to `endpoint`, in `region` as
    aws-actions/configure-aws-credentials sets it."""
    return {
        **os.environ,
        "AWS_ACCESS_KEY_ID": LOCAL_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": LOCAL_SECRET,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
    }
