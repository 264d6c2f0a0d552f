"""The private index's credentials reach uv as a netrc file that no cache key contains.

The credentials come only from the caller's environment, in uv's convention
(`UV_INDEX_<NAME>_USERNAME` / `UV_INDEX_<NAME>_PASSWORD`, NAME being `[peach].private_index_name`).
Passing them to uv as environment variables would make them part of every uv process's cache key
(so a rotated CI token would re-lock everything) and of the Command that Pants stores and uploads
to a remote cache. Instead they are written to a netrc file (mode 0600) in the `peach_credentials`
named cache, which uv processes mount; their environment holds only the file's path, which does
not change when the password does.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Tuple

from pants.engine.env_vars import EnvironmentVars, EnvironmentVarsRequest
from pants.engine.rules import Get, collect_rules, rule
from pants.option.global_options import NamedCachesDirOption
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel

from peach.config.errors import PackagingError
from peach.config.names import url_origin
from peach.subsystem import PeachSubsystem

NAMED_CACHE = "peach_credentials"
SANDBOX_DIR = ".peach/secrets"


def credentials_env_names(index_name: str) -> Tuple[str, str]:
    """uv's variables for an index's credentials: `UV_INDEX_<NAME>_USERNAME` / `_PASSWORD`."""
    key = re.sub(r"[^A-Za-z0-9]", "_", index_name).upper()
    return f"UV_INDEX_{key}_USERNAME", f"UV_INDEX_{key}_PASSWORD"


def netrc_text(host: str, username: str, password: str) -> str:
    for what, value in (("username", username), ("password", password)):
        if re.search(r"\s|\"", value):
            raise PackagingError(
                f"the private index {what} contains whitespace or a quote, which cannot be passed to uv "
                "through a netrc file: use a token without them"
            )
    return f"machine {host}\nlogin {username or 'token'}\npassword {password}\n"


def write_private_file(path: Path, text: str) -> None:
    """Write `text` to `path` (mode 0600, in a 0700 directory), atomically and only if it changed."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    try:
        if path.read_text() == text:
            return
    except OSError:
        pass
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".netrc.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


@dataclass(frozen=True)
class UvCredentials:
    """What a uv process adds to find the private index's credentials: a path, never a secret."""

    env: FrozenDict[str, str]
    append_only_caches: FrozenDict[str, str]
    given: bool

    @classmethod
    def none(cls) -> "UvCredentials":
        return cls(FrozenDict(), FrozenDict(), False)


@rule(desc="Pass the private index's credentials to uv", level=LogLevel.DEBUG)
async def uv_credentials(peach: PeachSubsystem, named_caches: NamedCachesDirOption) -> UvCredentials:
    index = peach.private_index.strip()
    user_var, password_var = credentials_env_names(peach.private_index_name)
    env = await Get(EnvironmentVars, EnvironmentVarsRequest((user_var, password_var)))
    username, password = env.get(user_var) or "", env.get(password_var) or ""
    if not index.startswith(("http://", "https://")) or not password:
        return UvCredentials.none()
    host = urllib.parse.urlsplit(index).hostname or ""
    # One file per index: the name depends on the index, not on the credentials.
    key = hashlib.sha256(url_origin(index).encode()).hexdigest()[:16]
    write_private_file(Path(named_caches.val) / NAMED_CACHE / key / "netrc", netrc_text(host, username, password))
    return UvCredentials(
        env=FrozenDict({"NETRC": f"{{chroot}}/{SANDBOX_DIR}/{key}/netrc"}),
        append_only_caches=FrozenDict({NAMED_CACHE: SANDBOX_DIR}),
        given=True,
    )


def rules():
    return collect_rules()
