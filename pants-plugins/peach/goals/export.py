"""`pants export`: each environment as a virtualenv, made by `uv sync --locked` from its project.

`pants export --resolve=peach/<codops>/<env>` (one environment) or `--resolve=peach/<codops>/` (every
environment of a codops) writes
`dist/export/peach-<codops>/<env>/` with the environment's `pyproject.toml` and `uv.lock` and a
`.venv` with the image's Python version: point an IDE at `.venv/bin/python`. The project
directory is as deep below the build root as `dist/peach/<codops>/<env>/`, so a directory index,
which the project names by a relative path, is found from both.

`pants export <targets>` (environments, a codops, `::`) works too, but goes through Pants' deprecated
target-based export, which warns and also exports the virtualenvs of Pants' own Python tools (pytest,
...): the README shows `--resolve`. uv's install output shows at `-ldebug` only.
"""
from __future__ import annotations

import dataclasses
import posixpath
from dataclasses import dataclass
from typing import Dict, List, Tuple

from pants.backend.python.subsystems.setup import PythonSetup
from pants.backend.python.util_rules.pex import Pex, PexRequest
from pants.base.build_root import BuildRoot
from pants.core.goals.export import (
    ExportRequest,
    ExportResult,
    ExportResults,
    ExportSubsystem,
    PostProcessingCommand,
)
from pants.core.util_rules.system_binaries import BinaryPathRequest, BinaryPaths
from pants.engine.env_vars import EnvironmentVars, EnvironmentVarsRequest
from pants.engine.fs import AddPrefix, CreateDigest, Digest, FileContent, MergeDigests
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.unions import UnionRule
from pants.option.global_options import GlobalOptions, NamedCachesDirOption
from pants.util.logging import LogLevel

from peach.config.ids import RESOLVE_PREFIX, codops_export_dir, codops_of_prefix, selects
from peach.environments.lock import LockedEnvironment, LockEnvironmentRequest
from peach.environments.project import EnvironmentRequest, KnownEnvironments
from peach.subsystem import PeachSubsystem
from peach.target_types import resolve_selectors
from peach.uv.credentials import NAMED_CACHE
from peach.uv.lockfile import relocate
from peach.uv.tool import UV_CACHE, UvIsolation, UvTool, on_image_interpreter


@dataclass(frozen=True)
class ExportPeachEnvironmentsRequest(ExportRequest):
    pass


def wanted(names: List[str], resolves: KnownEnvironments) -> Dict[str, EnvironmentRequest]:
    """The environments of `names`: resolve names, or prefixes ending in `/` (`peach/zzebu/`)."""
    found = {}
    for name in names:
        for resolve, env in resolves.by_name.items():
            if selects(name, resolve):
                found[resolve] = env
    return found


@dataclass(frozen=True)
class _Export:
    environment: EnvironmentRequest


DIGEST_ROOT = "{digest_root}"  # what Pants replaces, in a post-processing command's argv only


def env_argv(env: Dict[str, str]) -> Tuple[str, ...]:
    """`env`'s variables as `NAME=value` arguments of `env -i`, for Pants to format: `{digest_root}`
    (the export directory) stays a placeholder, every other brace is escaped."""
    def escaped(value: str) -> str:
        return DIGEST_ROOT.join(p.replace("{", "{{").replace("}", "}}") for p in value.split(DIGEST_ROOT))

    return tuple(f"{name}={escaped(value)}" for name, value in env.items())


def sync_command(env_path: str, isolation: UvIsolation, named_caches: str, caller_path: str,
                 quiet: bool) -> PostProcessingCommand:
    """`uv sync --locked` of the project exported at `{digest_root}`, in the workspace, with the
    isolation of every uv run (`UvIsolation`): `env -i` so that it sees nothing else of the Pants
    process's environment but its `PATH`, which a post-processing command gets, too."""
    env = {
        **isolation.env(DIGEST_ROOT, posixpath.join(named_caches, UV_CACHE), posixpath.join(named_caches, NAMED_CACHE)),
        "PATH": caller_path,
        "PEX_ROOT": posixpath.join(named_caches, "pex_root"),
        # uv's Python entry point would set VIRTUAL_ENV to the tool's own virtualenv, and uv would
        # warn that it does not match the project's `.venv` and ignore it: name the project's.
        "VIRTUAL_ENV": f"{DIGEST_ROOT}/.venv",
    }
    python = isolation.python.path
    return PostProcessingCommand([
        env_path, "-i", *env_argv(env),
        python, f"{DIGEST_ROOT}/.peach/uv.pex",
        "sync", "--locked", "--no-install-project", "--directory", DIGEST_ROOT, "--python", python,
        # What uv installs is for `-ldebug`; its errors show at every level.
        *(("--quiet",) if quiet else ()),
    ])


@rule(desc="Export a peach environment as a virtualenv", level=LogLevel.DEBUG)
async def export_environment(
    request: _Export,
    uv: UvTool,
    buildroot: BuildRoot,
    named_caches: NamedCachesDirOption,
    isolation: UvIsolation,
    peach: PeachSubsystem,
    python_setup: PythonSetup,
    global_options: GlobalOptions,
) -> ExportResult:
    env = request.environment
    reldir = env.id.export_dir
    # The tool's own interpreter constraints, so a repository needs no `[python]` settings for it, or
    # the image's interpreter that runs it below, when those constraints allow it.
    pex_request = on_image_interpreter(
        uv.to_pex_request(interpreter_constraints=uv.interpreter_constraints), uv, isolation.python, peach,
        python_setup)
    # A pex that runs in a venv of its own, where the `uv` console script finds its binary.
    pex_request = dataclasses.replace(pex_request, additional_args=(*pex_request.additional_args, "--venv", "prepend"))
    locked, uv_pex, env_binary, caller = await MultiGet(
        Get(LockedEnvironment, LockEnvironmentRequest(env)),
        Get(Pex, PexRequest, pex_request),
        Get(BinaryPaths, BinaryPathRequest(binary_name="env", search_path=("/usr/bin", "/bin"))),
        Get(EnvironmentVars, EnvironmentVarsRequest(("PATH",))),
    )
    project = await Get(Digest, CreateDigest([
        FileContent("pyproject.toml", locked.pyproject),
        FileContent("uv.lock", relocate(locked.lock, buildroot.path).encode()),
    ]))
    tool = await Get(Digest, AddPrefix(uv_pex.digest, ".peach"))
    digest = await Get(Digest, MergeDigests([project, tool, isolation.files]))
    env_path = env_binary.first_path_or_raise(
        BinaryPathRequest(binary_name="env", search_path=("/usr/bin", "/bin")), rationale="export peach environments")
    sync = sync_command(env_path.path, isolation, str(named_caches.val), caller.get("PATH", ""),
                        quiet=global_options.level.level > LogLevel.DEBUG.level)
    return ExportResult(
        f"the peach environment {env.name} (a virtualenv made with uv sync --locked)",
        reldir,
        digest=digest,
        post_processing_cmds=[sync],
        resolve=env.id.resolve,
    )


@rule(desc="Export peach environments", level=LogLevel.DEBUG)
async def export_peach_environments(
    request: ExportPeachEnvironmentsRequest, export: ExportSubsystem, resolves: KnownEnvironments
) -> ExportResults:
    names = [n for n in export.options.resolve if n.startswith(RESOLVE_PREFIX)]
    if export.options.resolve:
        # Pants reports resolve names that nothing exported, with the list of valid ones.
        environments = wanted(names, resolves)
    else:
        # Targets: an environment exports itself, a codops its environments, `_all` every one.
        environments = wanted(resolve_selectors(request.targets), resolves)
    results = await MultiGet(Get(ExportResult, _Export(env)) for _, env in sorted(environments.items()))
    # An unknown `peach/<codops>/` gets no result: Pants reports it, with the list of valid names.
    prefixes = [n for n in names if codops_of_prefix(n) and any(r.startswith(n) for r in resolves.by_name)]
    return ExportResults((*results, *(codops_result(name) for name in prefixes)))


def codops_result(name: str) -> ExportResult:
    """What `--resolve=peach/<codops>/` answers for Pants, which checks that each resolve it was given
    was exported: the codops' export directory, emptied first (an environment deleted since the
    last export disappears) and filled by the environments' own results."""
    codops = codops_of_prefix(name)
    return ExportResult(f"the peach environments of codops {codops}", codops_export_dir(codops), resolve=name)


def rules():
    return [*collect_rules(), UnionRule(ExportRequest, ExportPeachEnvironmentsRequest)]
