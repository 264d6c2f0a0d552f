"""The private index: where it is, and the latest final release of a private package on it.

The lookup runs uv (`uv pip compile --no-deps` of the bare name against the private index alone),
which already has the index's credentials and TLS settings, skips yanked files and, with
`--prerelease disallow`, pre-releases and dev releases. It runs on every build (never cached).
"""
from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass
from typing import Optional

from pants.engine.fs import (
    CreateDigest,
    Digest,
    FileContent,
    MergeDigests,
    PathGlobs,
    Snapshot,
)
from pants.engine.process import FallibleProcessResult, ProcessCacheScope
from pants.engine.rules import Get, collect_rules, rule
from pants.util.logging import LogLevel

from peach.config.errors import PackagingError
from peach.config.names import redact_url
from peach.environments.platforms import ImagePlatforms
from peach.subsystem import PeachSubsystem
from peach.uv.credentials import PUBLIC_INDEX_NAME, UvCredentials, credentials_env_names
from peach.uv.tool import UvProcess, uv_message


@dataclass(frozen=True)
class PrivateIndexSetup:
    """The `[peach]` private index: an http(s) URL, or a directory of wheels in the repository."""

    location: str  # the URL, or the directory relative to the build root
    name: str
    directory: Optional[Snapshot]
    credentials_given: bool

    @property
    def is_directory(self) -> bool:
        return self.directory is not None

    @property
    def shown(self) -> str:
        return redact_url(self.location)


def public_index_url(value: str) -> str:
    """`[peach].public_index` as it goes into every `pyproject.toml`: "" (PyPI) or an http(s) URL
    without credentials (those come from the environment, as for the private index)."""
    location = value.strip()
    if not location:
        return ""
    if not location.startswith(("http://", "https://")):
        raise PackagingError(
            f"[peach].public_index = `{redact_url(location)}` is not an http(s) URL: set it to the simple index URL "
            "of the mirror (`public_index = \"https://mirror.example.com/simple\"`), or leave it empty for PyPI."
        )
    if redact_url(location) != location:
        raise PackagingError(
            f"[peach].public_index = `{redact_url(location)}` carries credentials in the URL, which would be written "
            "into every pyproject.toml (so into cache keys, the remote cache and dist/): remove them and set them "
            f"in the environment instead, as {' and '.join(credentials_env_names(PUBLIC_INDEX_NAME))}."
        )
    return location.rstrip("/")


@rule(desc="Find the peach private index", level=LogLevel.DEBUG)
async def private_index_setup(peach: PeachSubsystem, credentials: UvCredentials) -> PrivateIndexSetup:
    location = peach.private_index.strip()
    if not location:
        raise PackagingError(
            "[peach].private_index is not set: peach needs the private index that private packages "
            f"({', '.join(peach.private_packages)}) come from. Set it in pants.toml, under `[peach]`, to the "
            "index URL (`private_index = \"https://pypi.example.com/simple\"`) or to a directory of wheels "
            "in the repository (`private_index = \"3rdparty/wheels\"`)."
        )
    if location.startswith(("http://", "https://")):
        if redact_url(location) != location:
            raise PackagingError(
                f"[peach].private_index = `{redact_url(location)}` carries credentials in the URL: remove them "
                "and set them in the environment instead, as "
                f"{' and '.join(credentials_env_names(peach.private_index_name))}."
            )
        return PrivateIndexSetup(location.rstrip("/"), peach.private_index_name, None, credentials.given)
    if os.path.isabs(location) or posixpath.normpath(location).startswith("..") or "://" in location:
        raise PackagingError(
            f"[peach].private_index = `{location}`: a directory of wheels must be a path relative to the build "
            "root, inside the repository; use an http(s) URL for an index elsewhere."
        )
    directory = await Get(Snapshot, PathGlobs([f"{posixpath.normpath(location)}/*"]))
    if not directory.files:
        raise PackagingError(
            f"[peach].private_index = `{location}`: no such directory of wheels in the repository (or it is "
            "empty). Build the private packages' wheels into it, or point `[peach].private_index` at the index."
        )
    return PrivateIndexSetup(posixpath.normpath(location), peach.private_index_name, directory, False)


@dataclass(frozen=True)
class LatestReleaseRequest:
    package: str  # canonical name


@dataclass(frozen=True)
class LatestRelease:
    package: str
    version: str


@rule(desc="Look up the latest release on the private index")
async def latest_release(
    request: LatestReleaseRequest, setup: PrivateIndexSetup, peach: PeachSubsystem, image: ImagePlatforms
) -> LatestRelease:
    package = request.package
    files = [FileContent(".peach/latest.in", f"{package}\n".encode())]
    inputs = [await Get(Digest, CreateDigest(files))]
    if setup.directory is not None:
        inputs.append(setup.directory.digest)
        where = ("--no-index", "--find-links", setup.location)
    else:
        where = ("--index-url", setup.location)
    digest = await Get(Digest, MergeDigests(inputs))
    result = await Get(FallibleProcessResult, UvProcess(
        argv=(
            "pip", "compile", ".peach/latest.in", "--no-deps", "--no-header", "--no-annotate",
            "--prerelease", "disallow", "--refresh-package", package,
            "--python-version", image.python_version, "--python-platform", image.platforms[0].name,
            *where,
        ),
        input_digest=digest,
        relocate=setup.is_directory,
        description=f"Look up the latest {package} on the private index",
        level=LogLevel.DEBUG,
        # A new release counts at the next build: an index server's answer can change between two
        # builds, so it is asked once per run; a directory of wheels is part of the input digest, so
        # its answer is a function of its files and may be cached (a no-op or an edit then skips the
        # lookup, which otherwise stands before every lock).
        cache_scope=ProcessCacheScope.SUCCESSFUL if setup.directory is not None else ProcessCacheScope.PER_SESSION,
        timeout_seconds=peach.index_timeout * 3 + 30,
        http_timeout=peach.index_timeout,
        # One attempt: uv's retries of a failed connection (about 12 s for an unknown host) would make
        # an unreachable index take longer than `[peach].index_timeout` to report.
        http_retries=0,
    ))
    stdout, stderr = result.stdout.decode(), uv_message(result.stderr)
    match = re.search(rf"^{re.escape(package)}==(\S+)\s*$", stdout, re.MULTILINE | re.IGNORECASE)
    if result.exit_code == 0 and match:
        return LatestRelease(package, match.group(1))
    raise PackagingError(lookup_failure(package, setup, stderr, peach.index_timeout))


def lookup_failure(package: str, setup: PrivateIndexSetup, stderr: str, timeout: int) -> str:
    """A clear message for a failed lookup, from uv's own message."""
    where = f"the private index {setup.shown}"
    user_var, password_var = credentials_env_names(setup.name)
    text = stderr.strip()
    detail = "\n".join(line for line in text.splitlines()[-12:] if line.strip())
    if re.search(r"\b401 Unauthorized", text):
        given = "the given ones were rejected" if setup.credentials_given else "none were given"
        why = (f"{where} answered HTTP 401 Unauthorized: the credentials are missing or wrong ({given}); "
               f"set {user_var} and {password_var} in the environment")
    elif re.search(r"\b403 Forbidden", text):
        why = (f"{where} answered HTTP 403 Forbidden: the credentials lack access to it, or are wrong; check "
               f"{user_var} and {password_var}")
    elif re.search(r"timed? ?out|timeout", text, re.IGNORECASE):
        why = f"{where} timed out (after {timeout} s, `[peach].index_timeout`): check that the index is up, or try again later"
    elif re.search(r"Connection refused|dns error|failed to lookup address|Could not connect|error sending request"
                   r"|client error \(Connect\)", text, re.IGNORECASE):
        why = f"cannot reach {where}: check the index URL and that the index is up and reachable from this machine"
    elif re.search(r"\(5\d\d ", text):
        code = re.search(r"\((5\d\d) ", text).group(1)  # type: ignore[union-attr]
        why = f"{where} answered HTTP {code}: check that the index is healthy, or try again later"
    elif re.search(r"unexpected (JSON|HTML)|Failed to parse|malformed", text, re.IGNORECASE):
        why = f"{where} sent a malformed page for {package}: check that the URL is a PEP 503 or PEP 691 simple index"
    elif "was not found in the package registry" in text:
        why = f"{where} has no package {package}: check the package name and the index URL"
    elif re.search(r"no versions of|pre-release", text, re.IGNORECASE):
        why = (f"{where} has no final release of {package}: publish one there, or pin a version of it in "
               "`base` (a pinned version is not looked up)")
    else:
        why = f"uv could not look it up on {where}"
    return f"cannot pin {package} to its latest release: {why}.\n\nuv said:\n{detail}"


def rules():
    return collect_rules()
