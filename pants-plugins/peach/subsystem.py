"""The `[peach]` options."""
from __future__ import annotations

from enum import Enum
from typing import Any

from pants.option.option_types import (
    BoolOption,
    DictOption,
    EnumOption,
    IntOption,
    StrListOption,
    StrOption,
)
from pants.option.subsystem import Subsystem
from pants.util.strutil import softwrap

from peach.config.model import DEFAULT_GATEWAY_ENVIRONMENT

BUILTIN_FRAMEWORK_STACK = "peach/framework-stack.txt, built in"


class StaleLockfileBehavior(Enum):
    error = "error"
    warn = "warn"
    ignore = "ignore"


class PeachSubsystem(Subsystem):
    options_scope = "peach"
    help = softwrap(
        """
        Options for the peach plugin, which turns `peach.conf/*.yaml` files into one Python
        environment (a uv project) per codops and environment.
        """
    )

    injected_requirements = StrListOption(
        default=["pipe-algorithms-lib", "implicit==0.7.2"],
        help=softwrap(
            """
            Runtime libraries added to every codops' `base` environment (and so, by inheritance, to
            every environment). A bare name of a private package (see `private_packages`) is pinned
            to the private index's latest release when the environment is packaged. A user pin of
            the same package in `base` replaces the injected entry.
            """
        ),
    )
    framework_stack = StrOption(
        default="",
        help=softwrap(
            f"""
            Path, relative to the build root, of a requirements file (one requirement a line, `#`
            comments) with the serve and framework stack pinned into every environment, in sync
            with the serving image. Users may not declare these packages themselves. Empty: the
            stack peach ships ({BUILTIN_FRAMEWORK_STACK}).
            """
        ),
    )
    private_packages = StrListOption(
        default=["pipe-algorithms-lib"],
        help=softwrap(
            """
            Packages that come only from the private index: names or shell-style patterns
            (`pipe-*`), compared after PEP 503 normalisation. When packaging, each is pinned to the
            private index in `[tool.uv.sources]`, and a bare one is pinned to its latest release.
            """
        ),
    )
    gateway_environment = StrOption(
        default=DEFAULT_GATEWAY_ENVIRONMENT,
        advanced=True,
        help=softwrap(
            """
            Name of the internal environment built for every codops' CodopsGateway. It holds the
            `base` environment's requirements. User environments may not take this name.
            """
        ),
    )
    python_version = StrOption(
        default="3.11",
        help=softwrap(
            """
            The serving image's Python version (`major.minor`). Each project gets
            `requires-python = "==<version>.*"`, and uv locks with an interpreter of this version
            found by Pants' interpreter discovery (`[python-bootstrap].search_path`).
            """
        ),
    )
    platforms = StrListOption(
        default=["x86_64-manylinux_2_28"],
        help=softwrap(
            """
            The serving image's platforms, as uv names them for `--python-platform`
            (`x86_64-manylinux_2_28`, `aarch64-manylinux_2_28`, `linux`, `macos`, `windows`, ...).
            Each project's `[tool.uv].environments` lists their markers, so uv locks for these
            platforms only, and every lock is checked against a platform-specific resolution for
            each of them: where wheels of one version disagree about their dependencies (torch
            2.0's `nvidia-*` packages), the project declares what each platform installs.
            """
        ),
    )
    private_index = StrOption(
        default="",
        help=softwrap(
            """
            The private package index: an http(s) "simple" index URL (without credentials), or a
            directory of wheels relative to the build root. Private packages (`private_packages`)
            come from it and from nowhere else. Credentials come only from the environment, in
            uv's convention: `UV_INDEX_PRIVATE_USERNAME` / `UV_INDEX_PRIVATE_PASSWORD` (`PRIVATE`
            is `private_index_name` in upper case, other characters than letters and digits as
            `_`). peach hands them to uv in a netrc file, never in a process's environment.
            """
        ),
    )
    public_index = StrOption(
        default="",
        advanced=True,
        help=softwrap(
            """
            A replacement for the public index (PyPI), e.g. a company mirror: an http(s) simple
            index URL (without credentials), written to `[[tool.uv.index]]` with `default = true`.
            Empty: uv's default, PyPI. Private packages still come only from the private index.
            Credentials come only from the environment, as `UV_INDEX_PUBLIC_USERNAME` /
            `UV_INDEX_PUBLIC_PASSWORD`, and reach uv in the same netrc file as the private index's.
            """
        ),
    )
    private_index_name = StrOption(
        default="private",
        advanced=True,
        help="The private index's name in `[[tool.uv.index]]` (and in its credential variables).",
    )
    index_timeout = IntOption(
        default=30,
        advanced=True,
        help="Seconds to wait for an answer of the private index when looking up the latest release of a package.",
    )
    lockfile_dir = StrOption(
        default="3rdparty/peach/locks",
        help=softwrap(
            """
            Where `pants generate-lockfiles --resolve=peach/<codops>/<env>` writes committed
            lockfiles (`<dir>/<codops>/<env>/uv.lock`). When such a lockfile exists, `package`
            runs `uv lock` starting from it and ships it if that changes nothing (it is current);
            otherwise `stale_lockfile` decides.
            """
        ),
    )
    align_environments = BoolOption(
        default=False,
        help=softwrap(
            """
            Lock each named environment starting from its codops' `base` lock, so packages that
            nobody pinned take `base`'s versions where the environment's requirements allow
            (`pants peach-drift` shows what differs). Off: each environment resolves on its own
            and gets the newest versions its requirements allow.
            """
        ),
    )
    stale_lockfile = EnumOption(
        default=StaleLockfileBehavior.error,
        help=softwrap(
            """
            What `package` does when a committed lockfile is stale (`uv lock` started from it
            changes it): `error` fails, showing the packages that would be added, removed or
            changed and the command that regenerates it; `warn` logs that and ships the lock
            `uv lock` made from the committed one (its versions kept where the requirements allow,
            as `uv lock` does in a uv project); `ignore` ships it silently. Where the image's
            platforms disagree with that lock, a fresh one is made instead.
            """
        ),
    )
    size_budgets = DictOption[Any](
        default={},
        help=softwrap(
            """
            Size budgets per environment: `codops/environment` patterns (shell-style: `zzebu/ml`,
            `zzebu/*`, `*/ml`, `*` for all) mapped to the most an environment may weigh on the image,
            as bytes or with a unit (`"3GiB"`, `"500MB"`; kB/MB/GB are powers of 1000, KiB/MiB/GiB of
            1024). The size is the download size of the files the environment's `uv.lock` records for
            each of `platforms` (the wheel uv installs there), so checking it runs no process.
            `package` fails for an environment over its budget on any platform, naming its size, the
            budget and the largest contributors with the config lines that brought them in. Where
            several patterns match, the most specific one (most characters that are not wildcards)
            applies; on a tie the smallest budget. Default: no budget.
            """
        ),
    )
