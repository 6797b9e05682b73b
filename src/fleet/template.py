"""The template a repository was rendered from: where it lives, which releases it has, and
whether two ways of writing its location name the same template."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version

from fleet.git import GitError, is_in_work_tree, remote_tags, remote_urls

# Copier's shortcuts for hosted repositories (copier's `_vcs.py`).
URL_SHORTCUTS = {"gh:": "github.com/", "gl:": "gitlab.com/"}
# What `git describe --tags` writes after a tag when the commit is not the tagged one.
DESCRIBE_SUFFIX = re.compile(r"^(?P<tag>.+)-(?P<distance>\d+)-g(?P<commit>[0-9a-f]+)$")
# What `git describe --tags --always` writes when no tag came before the commit: its
# abbreviated hash, which PEP 440 would read as a version one time in ten ("1234567").
BARE_COMMIT = re.compile(r"^[0-9a-f]{7,40}$")


def git_location(source: str) -> str:
    """A template location as git reads it: copier's shortcuts (`gh:acme/t`, `gl:acme/t`) and
    its `git+` prefix expanded as copier expands them (`https://github.com/acme/t.git`)."""
    for shortcut, host in URL_SHORTCUTS.items():
        if source.startswith(shortcut):
            path = source.removeprefix(shortcut).lstrip("/")
            return f"https://{host}{path}{'' if path.endswith('.git') else '.git'}"
    return source.removeprefix("git+")


class TemplateError(Exception):
    """The template cannot be read (not a git repository, unreachable, no releases)."""


@dataclass(frozen=True, order=True)
class Release:
    """A tag of the template whose name is a PEP 440 version (`1.1.0`, `v1.1.0`)."""

    version: Version
    tag: str


def local_folder(source: str) -> Path | None:
    """The folder a template location names, if it is a local one. A relative path is taken
    from the current folder, as copier takes it."""
    path = Path(source.removeprefix("file://")).expanduser()
    return path.resolve() if path.is_dir() else None


def is_url(source: str) -> bool:
    """Whether a template location is a URL (or copier's shortcut, or git's scp-like form)."""
    return (
        "://" in source
        or source.startswith(tuple(URL_SHORTCUTS))
        or re.match(r"^[\w.-]+@[\w.-]+:", source) is not None
    )


def location_key(source: str) -> str:
    """One spelling per template: a local folder's resolved path, or a URL as host/path in
    lower case without scheme, user, `.git` or trailing slash, so `git@github.com:acme/t.git`,
    `https://github.com/acme/t` and `gh:acme/t` are the same template."""
    folder = local_folder(source)
    if folder is not None:
        return str(folder)
    url = source.strip()
    for shortcut, host in URL_SHORTCUTS.items():
        if url.startswith(shortcut):
            url = host + url.removeprefix(shortcut)
    url = re.sub(r"^[a-z+]+://", "", url)  # https://, ssh://, git+https://
    url = re.sub(r"^[^@/]+@", "", url)  # git@, user@
    url = re.sub(r"^([^/:]+):(?!\d+/)", r"\1/", url)  # scp-like host:path (not host:port/)
    url = re.sub(r"^([^/:]+):\d+/", r"\1/", url)  # a port names no other repository
    url = url.rstrip("/").removesuffix(".git")
    return url.lower()


@dataclass(frozen=True)
class ExpectedTemplate:
    """The template every repository must come from, and the spellings that name it."""

    source: str
    keys: frozenset[str]

    @classmethod
    def at(cls, source: str) -> ExpectedTemplate:
        """A template location; a local checkout also answers to its remotes' URLs, so a
        repository rendered from the published URL matches the platform team's clone."""
        keys = {location_key(source)}
        folder = local_folder(source)
        if folder is None:
            if not is_url(source):
                raise TemplateError(f"template {source}: no such folder, and not a URL")
            return cls(source=source, keys=frozenset(keys))
        if not is_in_work_tree(folder):
            raise TemplateError(
                f"template {source}: not a git repository (its releases are its tags)"
            )
        keys.update(location_key(url) for url in remote_urls(folder))
        return cls(source=str(folder), keys=frozenset(keys))

    def names(self, source: str) -> bool:
        return location_key(source) in self.keys


def this_template() -> Path | None:
    """The template repository that holds this package (`uv run fleet` in its checkout), or
    None when fleet is installed somewhere else."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "copier.yml").is_file() else None


def tag_objects(source: str) -> dict[str, str]:
    """The template's tags and the objects they name."""
    try:
        return remote_tags(git_location(source))
    except GitError as error:
        raise TemplateError(f"cannot read the releases of template {source}: {error}") from error


def releases(source: str) -> list[Release]:
    """The template's releases, oldest first. Pre-releases are left out, as `copier update`
    leaves them out unless asked."""
    found: list[Release] = []
    for tag in tag_objects(source):
        try:
            version = Version(tag)
        except InvalidVersion:
            continue
        if not version.is_prerelease:
            found.append(Release(version=version, tag=tag))
    return sorted(found)


def tag_of(commit: str) -> str:
    """The tag a repository's `_commit` names: itself, or the tag `git describe` started from."""
    match = DESCRIBE_SUFFIX.match(commit)
    return match.group("tag") if match else commit


def version_of(commit: str) -> Version | None:
    """The release a repository's `_commit` is on or after: copier writes `git describe
    --tags` there (`1.0.0`, or `1.0.0-3-gabc1234` for a commit after it); None when no tag
    came before it (a bare commit hash)."""
    if BARE_COMMIT.match(commit):
        return None
    try:
        return Version(tag_of(commit))
    except InvalidVersion:
        return None


def is_behind(commit: str, newest: Release | None) -> bool:
    if newest is None:
        return False
    version = version_of(commit)
    # A commit no tag precedes was rendered before the first release, so every release is
    # newer than it.
    return version is None or version < newest.version


def newest_release(source: str) -> Release | None:
    found = releases(source)
    return found[-1] if found else None
