"""The indexes' credentials reach uv as a netrc file that no cache key contains; proxy settings
reach it only without credentials.

The credentials come only from the caller's environment, in uv's convention
(`UV_INDEX_<NAME>_USERNAME` / `UV_INDEX_<NAME>_PASSWORD`, NAME being `[peach].private_index_name`
for the private index and `public` for `[peach].public_index`). Passing them to uv as environment
variables would make them part of every uv process's cache key (so a rotated CI token would
re-lock everything) and of the Command that Pants stores and uploads to a remote cache. Instead
they are written to a netrc file (mode 0600) in the `peach_credentials` named cache, which uv
processes mount; their environment holds only the file's path, which does not change when the
password does.

The proxy variables (`HTTPS_PROXY`, ...) are passed on as they are, so one with a
`user:password@` part is refused: uv reads proxy credentials from the URL only, and the URL would
be part of the cache key like any other variable.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Mapping, Sequence, Tuple

from pants.engine.env_vars import EnvironmentVars, EnvironmentVarsRequest
from pants.engine.rules import Get, collect_rules, rule
from pants.option.global_options import NamedCachesDirOption
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel

from peach.config.errors import PackagingError
from peach.config.names import redact_url, url_origin
from peach.subsystem import PeachSubsystem

NAMED_CACHE = "peach_credentials"
SANDBOX_DIR = ".peach/secrets"
# `[peach].public_index`'s name in `[[tool.uv.index]]` (peach.uv.pyproject), so in its variables.
PUBLIC_INDEX_NAME = "public"
# The caller's proxy settings, which uv processes get (when they carry no credentials).
PROXY_ENV = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "all_proxy",
             "no_proxy")


def credentials_env_names(index_name: str) -> Tuple[str, str]:
    """uv's variables for an index's credentials: `UV_INDEX_<NAME>_USERNAME` / `_PASSWORD`."""
    key = re.sub(r"[^A-Za-z0-9]", "_", index_name).upper()
    return f"UV_INDEX_{key}_USERNAME", f"UV_INDEX_{key}_PASSWORD"


def netrc_text(host: str, username: str, password: str, index: str = "private index") -> str:
    for what, value in (("username", username), ("password", password)):
        if re.search(r"\s|\"", value):
            raise PackagingError(
                f"the {index} {what} contains whitespace or a quote, which cannot be passed to uv "
                "through a netrc file: use a token without them"
            )
    return f"machine {host}\nlogin {username or 'token'}\npassword {password}\n"


def proxy_env(caller: Mapping[str, str]) -> Dict[str, str]:
    """The caller's proxy settings for uv processes; a proxy URL with credentials is refused."""
    for name in PROXY_ENV:
        value = caller.get(name) or ""
        if name.lower() != "no_proxy" and value and redact_url(value) != value:
            raise PackagingError(
                f"{name} = `{redact_url(value)}` carries credentials (`user:password@`): peach does not pass a proxy "
                "password to uv, because the proxy variables are part of every uv process's cache key, of what a "
                f"remote cache stores and of debug logs. Set {name} without them, and let the proxy authenticate the "
                "machine otherwise (by address, or through a local forwarding proxy that adds the credentials, "
                f"e.g. {name}=http://127.0.0.1:3128)."
            )
    return {name: caller[name] for name in PROXY_ENV if caller.get(name)}


def index_credentials(
    indexes: Sequence[Tuple[str, str, str]], caller: Mapping[str, str]
) -> Tuple[Tuple[str, str, str], ...]:
    """`(what, origin, netrc entry)` of each http(s) index `(what, name, url)` whose password the
    caller's environment gives."""
    found: list = []  # (what, origin, netrc entry, host)
    for what, name, url in indexes:
        user_var, password_var = credentials_env_names(name)
        username, password = caller.get(user_var) or "", caller.get(password_var) or ""
        if not url.startswith(("http://", "https://")) or not password:
            continue
        host = urllib.parse.urlsplit(url).hostname or ""
        entry = netrc_text(host, username, password, what)
        same_host = [f for f in found if f[3] == host]
        if same_host and same_host[0][2] != entry:
            # A netrc file names hosts, not ports or paths: uv would send one index's password to the other.
            raise PackagingError(
                f"the {same_host[0][0]} and the {what} are both on {host}, with different credentials, which uv's "
                "netrc file cannot tell apart: give both the same credentials, or serve them from different host names"
            )
        if not same_host:
            found.append((what, url_origin(url), entry, host))
    return tuple(f[:3] for f in found)


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
    """What a uv run adds: where the indexes' credentials are (a path, never a secret), and the
    caller's proxy settings (checked to carry no credentials).

    `netrc` is the netrc file's path inside the `peach_credentials` named cache (`""` when no index
    has credentials); `env_at` says where that cache is for a run, so a sandboxed process and
    `export`'s run in the workspace get the same variables.
    """

    proxies: FrozenDict[str, str]
    netrc: str
    given: bool

    @classmethod
    def none(cls) -> "UvCredentials":
        return cls(FrozenDict(), "", False)

    def env_at(self, root: str) -> Dict[str, str]:
        """The variables of a uv run whose `peach_credentials` named cache is at `root`."""
        return {**self.proxies, **({"NETRC": f"{root}/{self.netrc}"} if self.netrc else {})}

    @property
    def append_only_caches(self) -> Dict[str, str]:
        """The named cache a sandboxed uv process mounts at `SANDBOX_DIR` (when there is a netrc)."""
        return {NAMED_CACHE: SANDBOX_DIR} if self.netrc else {}


@rule(desc="Pass the indexes' credentials and the proxy settings to uv", level=LogLevel.DEBUG)
async def uv_credentials(peach: PeachSubsystem, named_caches: NamedCachesDirOption) -> UvCredentials:
    indexes = (("private index", peach.private_index_name, peach.private_index.strip()),
               ("public index", PUBLIC_INDEX_NAME, peach.public_index.strip()))
    names = [n for _, name, _ in indexes for n in credentials_env_names(name)]
    caller = await Get(EnvironmentVars, EnvironmentVarsRequest((*names, *PROXY_ENV)))
    proxies = FrozenDict(proxy_env(caller))
    entries = index_credentials(indexes, caller)
    if not entries:
        return UvCredentials(proxies, "", False)
    # One file per set of indexes: the name depends on the indexes, not on the credentials.
    key = hashlib.sha256(" ".join(origin for _, origin, _ in entries).encode()).hexdigest()[:16]
    text = "".join(entry for _, _, entry in entries)
    write_private_file(Path(named_caches.val) / NAMED_CACHE / key / "netrc", text)
    return UvCredentials(proxies, f"{key}/netrc", any(what == "private index" for what, _, _ in entries))


def rules():
    return collect_rules()
