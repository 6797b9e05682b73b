"""The virtual environments of rendered projects: one per lock file for the whole session."""

from __future__ import annotations

import fcntl
import functools
import hashlib
import os
import shutil
from pathlib import Path

from .commands import run


def shared_environment(folder: Path) -> Path:
    """Point the `.venv` of a rendered project's folder (the CDK app's, or `service/`) at one
    environment per lock file in this session, synced once.

    What a team gets is the same (`uv sync --locked` from the same lock), but the session
    installs each lock once and, above all, compiles aws-cdk-lib's modules to bytecode once,
    not once per render (about 4 s of every first synth)."""
    lock = folder / "uv.lock"
    manifest = lock if lock.exists() else folder / "pyproject.toml"
    python = folder / ".python-version"
    key = hashlib.sha256(
        manifest.read_bytes() + (python.read_bytes() if python.exists() else b"")
    ).hexdigest()[:16]
    root = Path(os.environ["TEMPLATE_TESTS_ENVIRONMENTS"])
    root.mkdir(parents=True, exist_ok=True)
    # Named by what is installed, never by the folder: pytest-copie's folders (copie000, ...)
    # and the renders of other tests all share the environment of their lock file.
    kind = "service" if folder.name == "service" else "app"
    shared = root / f"{kind}-{manifest.name}-{key}"
    # One xdist worker creates it while the others wait for it.
    with open(root / f"{shared.name}.lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        if not (shared / "pyvenv.cfg").exists():
            locked = ["--locked"] if lock.exists() else []
            environment = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(shared)}
            run(["uv", "sync", "--quiet", *locked], folder, environment=environment)
    venv = folder / ".venv"
    if venv.is_symlink():
        venv.unlink()
    elif venv.exists():
        shutil.rmtree(venv)
    venv.symlink_to(shared, target_is_directory=True)
    return folder


def uv_sync(folder: Path, *, locked: bool = True) -> None:
    """`uv sync` as a team runs it, into the session's environment for that lock file."""
    shared_environment(folder)
    run(["uv", "sync", "--quiet", *(["--locked"] if locked else [])], folder)


@functools.cache
def synced(project: Path) -> Path:
    """`git init` and `uv sync` a rendered project once, however many tests need it: what the
    message after copy tells a team to do first."""
    if not (project / ".git").exists():
        run(["git", "init", "--quiet", "--initial-branch=main"], project)
    # --locked: the lock files the template ships must match the rendered manifests.
    uv_sync(project)
    return project
