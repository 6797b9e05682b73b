"""Post-copy task: make the new service a git repository and say what to do next.

Runs in the rendered project's directory. Needs no network and never fails the copy:
a missing git only skips the first step.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

NEXT_STEPS = """
Your service repository is ready. Next steps:
  uv sync                     # Python dependencies (CDK app, tests, linters)
  npm install                 # the pinned CDK CLI
  uv run pre-commit install   # secret scan, ruff and zizmor before every commit
  bash scripts/check          # what CI checks: hooks, tests, strict offline synth, cfn-lint
Commit uv.lock and package-lock.json with the code: CI installs exactly what they lock.
Then read README.md: bootstrap each account once, deploy the identity stacks as an
administrator, create the GitHub environments, push, and let the pipeline deploy the rest.
"""


def initialise_git(project: Path) -> None:
    if (project / ".git").exists() or shutil.which("git") is None:
        return
    subprocess.run(["git", "init", "--quiet", "--initial-branch=main"], cwd=project, check=True)


def main() -> None:
    initialise_git(Path.cwd())
    print(NEXT_STEPS)


if __name__ == "__main__":
    main()
