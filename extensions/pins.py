"""Versions the rendered workflows run, pinned in one table.

Actions are pinned to a full commit SHA (a tag can be moved; a commit cannot), with the
release it is in as a comment. Rendered repositories keep them current with Dependabot;
this table is where the template itself moves them forward.
"""

from __future__ import annotations

GITHUB_ACTIONS: dict[str, tuple[str, str, str]] = {
    # key: (action, commit, release); a commit id is no secret, but it looks like one.
    "checkout": (
        "actions/checkout",
        "3d3c42e5aac5ba805825da76410c181273ba90b1",  # pragma: allowlist secret
        "v7.0.1",
    ),
    "setup_node": (
        "actions/setup-node",
        "249970729cb0ef3589644e2896645e5dc5ba9c38",  # pragma: allowlist secret
        "v6.5.0",
    ),
    "setup_uv": (
        "astral-sh/setup-uv",
        "1c37ad07a6a961277cf70c0d37d6f313000f5884",  # pragma: allowlist secret
        "v10.3.0",
    ),
    "configure_aws_credentials": (
        "aws-actions/configure-aws-credentials",
        "e1253824e5c10ff9df46874f81ed3ec929e19cfd",  # pragma: allowlist secret
        "v6.3.0",
    ),
}

# The uv release CI installs; the sample service's Dockerfile copies the same release.
UV_VERSION = "0.13.9"
# Node.js for the CDK CLI in CI: the active LTS line (package.json requires >= 22).
NODE_VERSION = "24"


def action_pins() -> dict[str, str]:
    """'owner/name@<sha> # vX.Y.Z' for each action, ready for a workflow's `uses:`."""
    return {
        key: f"{action}@{commit} # {release}"
        for key, (action, commit, release) in GITHUB_ACTIONS.items()
    }
