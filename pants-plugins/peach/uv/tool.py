"""uv as a Pants tool: the `[uv]` subsystem, and one request type, `UvProcess`, that one rule turns
into a sandboxed `Process` (the shape of Helm's `HelmProcess`).

uv is installed from its own locked resolve (never taken from `PATH`). A process that may see the
sandbox's path (a private index that is a directory of wheels: its `file://` URLs in `uv.lock`) runs
through a venv pex whose entry point is `peach.uv.runner`, which makes uv's output independent of
the sandbox's path; every other one runs the binary of the same resolve's uv wheel directly (no
venv and no Python start: about 0.1 s less for each process). Every uv run (each `UvProcess`, and
`export`'s `uv sync`) gets, from one value, `UvIsolation`:

- a private `HOME` and XDG config directories and an empty system `uv.toml`, so no user or machine
  uv configuration changes the result (the caller's `UV_*` variables are not passed either);
- one uv cache shared by every process (the `peach_uv` named cache);
- the image's interpreter (`[peach].python_version`): the first `python<version>` on Pants'
  interpreter search path (`[python-bootstrap].search_path`) that runs as CPython of that version.
  It also runs the uv tool itself, so one cheap lookup replaces two runs of Pex's interpreter
  discovery, which identifies every interpreter on the search path and, on a machine with empty
  named caches (a fresh CI machine), took about 12 s;
- of the caller's environment, only the TLS and proxy settings;
- the private index's credentials as a netrc file in the `peach_credentials` named cache, so that
  neither its argv, its environment nor its input digest (its cache key) carries a secret.
"""
from __future__ import annotations

import dataclasses
import pkgutil
import re
from typing import Dict, Optional, Tuple

from pants.backend.python.subsystems.python_tool_base import (
    LockfileRules,
    PythonToolBase,
)
from pants.backend.python.subsystems.setup import PythonSetup
from pants.backend.python.target_types import ConsoleScript, EntryPoint
from pants.backend.python.util_rules.interpreter_constraints import (
    InterpreterConstraints,
)
from pants.backend.python.util_rules.pex import PexRequest, VenvPex, VenvPexProcess
from pants.backend.python.util_rules.pex_environment import PythonExecutable
from pants.backend.python.util_rules.pex_requirements import EntireLockfile
from pants.core.subsystems.python_bootstrap import PythonBootstrap
from pants.core.util_rules.system_binaries import (
    BinaryPathRequest,
    BinaryPaths,
    BinaryPathTest,
)
from pants.engine.env_vars import EnvironmentVars, EnvironmentVarsRequest
from pants.engine.fs import CreateDigest, Digest, FileContent, MergeDigests
from pants.engine.process import FallibleProcessResult, Process, ProcessCacheScope
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.option.option_types import IntOption
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel
from pants.util.strutil import softwrap

from peach.config.errors import PackagingError
from peach.subsystem import PeachSubsystem
from peach.uv.credentials import SANDBOX_DIR, UvCredentials

UV_VERSION = "0.13.9"

_RUNNER_MODULE = "peach_uv_runner"
# The caller's settings a uv process may see: TLS trust, and the proxies (through UvCredentials,
# which refuses a proxy URL with credentials). Nothing else.
PASSED_ENV = ("SSL_CERT_FILE", "SSL_CERT_DIR")


class UvTool(PythonToolBase):
    options_scope = "uv"
    name = "uv"
    help = softwrap(
        """
        The uv package manager, which locks each peach environment. Installed from PyPI through
        Pants (`install_from_resolve` names a resolve that pins `uv`), never taken from `PATH`.
        """
    )
    default_version = f"uv=={UV_VERSION}"
    default_requirements = [f"uv=={UV_VERSION}"]
    default_main = ConsoleScript("uv")
    register_interpreter_constraints = True
    default_interpreter_constraints = ["CPython>=3.9,<4"]
    default_lockfile_resource = ("peach.uv", "uv.lock")
    lockfile_rules_type = LockfileRules.SIMPLE

    remote_cache_speculation_delay = IntOption(
        default=1000,
        advanced=True,
        help=softwrap(
            """
            With a remote cache (`remote_cache_read`), how many milliseconds a uv process waits for
            the cache's answer before it also starts locally. Pants otherwise starts every uv process
            at once and cancels it when the cache answers, so a CI machine whose locks all hit the
            cache would still start a uv run per environment. A miss starts the local run as soon as
            the cache answers, so this only delays runs while the cache is slower than this.
            """
        ),
    )

    @property
    def version_number(self) -> str:
        """The uv version the projects require (`[tool.uv].required-version`)."""
        return UV_VERSION


@dataclasses.dataclass(frozen=True)
class UvProcess:
    """One sandboxed run of uv: `uv <argv>` with `input_digest` at the sandbox root.

    `lock` names the `uv.lock` (relative to the sandbox) whose directory-index paths are made
    sandbox-independent before and after uv runs (see `peach.uv.runner`).
    """

    argv: Tuple[str, ...]
    input_digest: Digest
    description: str
    output_files: Tuple[str, ...] = ()
    lock: Optional[str] = None
    relocated_inputs: Tuple[str, ...] = ()  # more files whose `$PEACH_BUILD_ROOT` becomes the sandbox
    # Whether uv may read or write paths of the sandbox (a directory index's `file://` URLs in `lock`
    # or `relocated_inputs`, or output to parse): then it runs through the runner, which makes them
    # sandbox-independent. False runs uv's binary directly, which spares every process the start of
    # the tool's venv and of a Python runner (about 0.1 s).
    relocate: bool = True
    cache_scope: ProcessCacheScope = ProcessCacheScope.SUCCESSFUL
    level: LogLevel = LogLevel.INFO
    timeout_seconds: Optional[int] = None
    http_timeout: Optional[int] = None  # seconds uv waits for an index (UV_HTTP_TIMEOUT)
    http_retries: Optional[int] = None  # how often uv retries a failed request (UV_HTTP_RETRIES)
    # For `uv run`: the command it runs, after uv's own options (`--python` comes before it).
    command: Tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class UvInterpreter:
    """The image's interpreter, which uv locks and compiles with (and which runs the uv tool)."""

    path: str
    fingerprint: Optional[str]

    @property
    def executable(self) -> PythonExecutable:
        return PythonExecutable(path=self.path, fingerprint=self.fingerprint)


@dataclasses.dataclass(frozen=True)
class UvBinary:
    """uv's executable alone, `uv` at the digest's root: the binary of the uv tool's wheel, from its
    resolve (taken from `UvToolPex`), for the uv processes that need no runner (`UvProcess.relocate` false)."""

    digest: Digest


UV_BINARY_DIR = ".peach-uv"  # where a direct uv process has the binary (an immutable input)


def image_interpreter_constraints(python_version: str) -> InterpreterConstraints:
    return InterpreterConstraints([f"CPython=={python_version}.*"])


def version_test(python_version: str) -> BinaryPathTest:
    """Exits 0 only in CPython `<major>.<minor>` (a binary of another version under that name, or a
    pyenv shim that does not run outside the user's shell, fails); prints the full version, so an
    upgraded interpreter gets a new fingerprint."""
    return BinaryPathTest(args=["-c", (
        "import sys; print(sys.version); "
        f"sys.exit(0 if sys.implementation.name == 'cpython' and '%d.%d' % sys.version_info[:2] == {python_version!r} "
        "else 1)")])


@rule(desc="Find the image's Python interpreter for uv", level=LogLevel.DEBUG)
async def uv_interpreter(peach: PeachSubsystem, bootstrap: PythonBootstrap) -> UvInterpreter:
    found = await Get(BinaryPaths, BinaryPathRequest(
        binary_name=f"python{peach.python_version}",
        search_path=bootstrap.interpreter_search_paths,
        test=version_test(peach.python_version),
    ))
    if found.first_path is not None:
        return UvInterpreter(found.first_path.path, found.first_path.fingerprint)
    # Installed under other names only (`python3`, `python`): Pex's discovery finds those too, and
    # its error message says where it looked when nothing matches.
    python = await Get(PythonExecutable, InterpreterConstraints, image_interpreter_constraints(peach.python_version))
    return UvInterpreter(python.path, python.fingerprint)


def with_interpreter(request: PexRequest, python: PythonExecutable) -> PexRequest:
    """`request` built with `python` instead of an interpreter found by Pex's discovery.

    A PexRequest takes constraints or an interpreter, not both. Pants 2.17's `build_pex` fills blank
    constraints in from the request's resolve even when an interpreter is given (and then rejects
    the pair), so for the built-in lockfile the resolve is named by nothing but the lockfile's
    origin. A `[uv].install_from_resolve` resolve keeps its constraints (and Pex's discovery).
    """
    if not isinstance(request.requirements, EntireLockfile):
        return request
    lockfile = dataclasses.replace(request.requirements.lockfile, resolve_name="")
    return dataclasses.replace(
        request, requirements=dataclasses.replace(request.requirements, lockfile=lockfile),
        interpreter_constraints=InterpreterConstraints(), python=python)


def on_image_interpreter(request: PexRequest, uv: UvTool, python: UvInterpreter, peach: PeachSubsystem,
                         python_setup: PythonSetup) -> PexRequest:
    """The uv tool's `request`, run by the image's interpreter when `[uv].interpreter_constraints`
    allow that interpreter (so no Pex interpreter discovery is needed for it)."""
    if uv.interpreter_constraints.contains(image_interpreter_constraints(peach.python_version),
                                           python_setup.interpreter_versions_universe):
        return with_interpreter(request, python.executable)
    return request


# The files of every uv run's private directories, relative to its root: an empty system uv.toml
# (so /etc/uv/uv.toml cannot weaken the index policy) and the private HOME and XDG directories.
ISOLATION_FILES = (
    FileContent(".peach/sysconfig/uv/uv.toml", b""),
    *(FileContent(f"{d}/.keep", b"") for d in (".peach/home", ".peach/config", ".peach/uv-credentials")),
)
# Where a sandboxed uv process mounts the `peach_uv` named cache (its uv cache), below its root.
SANDBOX_UV_CACHE = ".cache/uv"
UV_CACHE = "peach_uv"


@dataclasses.dataclass(frozen=True)
class UvIsolation:
    """What every uv run gets, built in one place: `UvProcess`'s sandboxed process and `export`'s
    `uv sync` in the workspace.

    `files` holds the private HOME/XDG directories and the empty system `uv.toml`, to be placed at the
    run's root; `env` gives the variables of a run with that root, its uv cache and the directory of
    the `peach_credentials` named cache. No secret is in either: the credentials are a netrc path.
    """

    files: Digest
    python: UvInterpreter
    caller: FrozenDict[str, str]  # of the caller's environment, only `PASSED_ENV` (TLS trust)
    credentials: UvCredentials

    def env(self, root: str, uv_cache: str, credentials_dir: str) -> Dict[str, str]:
        return {
            "HOME": f"{root}/.peach/home",
            "XDG_CONFIG_HOME": f"{root}/.peach/config",
            "XDG_CONFIG_DIRS": f"{root}/.peach/sysconfig",
            "UV_CACHE_DIR": uv_cache,
            "UV_CREDENTIALS_DIR": f"{root}/.peach/uv-credentials",
            "UV_PYTHON_DOWNLOADS": "never",
            "UV_NO_PROGRESS": "1",
            **self.caller,
            **self.credentials.env_at(credentials_dir),
        }

    def sandbox_env(self) -> Dict[str, str]:
        """The variables of a sandboxed process, which mounts the named caches below its root."""
        return self.env("{chroot}", f"{{chroot}}/{SANDBOX_UV_CACHE}", f"{{chroot}}/{SANDBOX_DIR}")

    def sandbox_caches(self) -> Dict[str, str]:
        return {UV_CACHE: SANDBOX_UV_CACHE, **self.credentials.append_only_caches}


@rule(desc="Isolate uv runs", level=LogLevel.DEBUG)
async def uv_isolation(credentials: UvCredentials) -> UvIsolation:
    files, python, caller = await MultiGet(
        Get(Digest, CreateDigest(ISOLATION_FILES)),
        Get(UvInterpreter),
        Get(EnvironmentVars, EnvironmentVarsRequest(PASSED_ENV)),
    )
    passed = FrozenDict({name: value for name, value in caller.items() if name in PASSED_ENV and value})
    return UvIsolation(files, python, passed, credentials)


@dataclasses.dataclass(frozen=True)
class UvToolPex:
    """The uv tool: a venv pex of the `[uv]` resolve whose entry point is the runner."""

    pex: VenvPex


@rule(desc="Build the uv tool", level=LogLevel.DEBUG)
async def uv_tool_pex(uv: UvTool, isolation: UvIsolation, peach: PeachSubsystem, python_setup: PythonSetup) -> UvToolPex:
    runner = await Get(Digest, CreateDigest([FileContent(f"{_RUNNER_MODULE}.py", _runner_source())]))
    pex_request = on_image_interpreter(
        uv.to_pex_request(interpreter_constraints=uv.interpreter_constraints, main=EntryPoint(_RUNNER_MODULE),
                          sources=runner),
        uv, isolation.python, peach, python_setup)
    return UvToolPex(await Get(VenvPex, PexRequest, pex_request))


@rule(desc="Set up a uv process", level=LogLevel.DEBUG)
async def uv_process(request: UvProcess, uv: UvTool, isolation: UvIsolation) -> Process:
    input_digest = await Get(Digest, MergeDigests([request.input_digest, isolation.files]))
    env = isolation.sandbox_env()
    if request.http_timeout:
        env["UV_HTTP_TIMEOUT"] = str(request.http_timeout)
    if request.http_retries is not None:
        env["UV_HTTP_RETRIES"] = str(request.http_retries)
    argv = (*request.argv, "--python", isolation.python.path, *request.command)
    common = dict(input_digest=input_digest, output_files=request.output_files, description=request.description,
                  append_only_caches=isolation.sandbox_caches(), level=request.level, cache_scope=request.cache_scope,
                  timeout_seconds=request.timeout_seconds)
    if not request.relocate:
        binary = await Get(UvBinary)
        return Process(argv=(f"{UV_BINARY_DIR}/uv", *argv), immutable_input_digests={UV_BINARY_DIR: binary.digest},
                       env=env, remote_cache_speculation_delay_millis=uv.remote_cache_speculation_delay,
                       **common)  # type: ignore[arg-type]
    uv_pex = (await Get(UvToolPex)).pex
    if request.lock:
        env["PEACH_UV_LOCK"] = request.lock
    if request.relocated_inputs:
        env["PEACH_UV_INPUTS"] = ":".join(request.relocated_inputs)
    process = await Get(Process, VenvPexProcess(uv_pex, argv=argv, extra_env=env, **common))  # type: ignore[arg-type]
    return dataclasses.replace(process, remote_cache_speculation_delay_millis=uv.remote_cache_speculation_delay)


# A Pants sandbox's path (`<local_execution_root_dir>/pants-sandbox-XXXXXX/`), as a file URL or a path.
_SANDBOX = re.compile(r"(?:file://)?(?:/[^/\s`'\"]+)*/pants-sandbox-[A-Za-z0-9]+/?")


def uv_message(output: bytes) -> str:
    """uv's stderr as a user reads it: paths below a sandbox shown relative to the build root (the
    sandbox holds the build root's layout). A run through the runner has this done already."""
    return _SANDBOX.sub("", output.decode("utf-8", "replace"))


# Writes `uv`, the uv wheel's executable, from the pex at argv[1] (Pex's packed layout holds each wheel's
# installed files zipped as `.deps/<wheel>`; the loose layout, as a directory). Standard library only.
EXTRACT_BINARY = """
import glob, os, sys, zipfile
found = []
for dep in sorted(glob.glob(os.path.join(sys.argv[1], ".deps", "uv-*.whl"))):
    if os.path.isdir(dep):
        names = [os.path.join(dep, ".prefix", "bin", "uv")]
        found += [open(n, "rb").read() for n in names if os.path.isfile(n)]
    else:
        with zipfile.ZipFile(dep) as wheel:
            found += [wheel.read(n) for n in wheel.namelist() if n == ".prefix/bin/uv" or n.endswith(".data/scripts/uv")]
if len(found) != 1:
    sys.exit("expected one uv executable in the uv tool's pex, found %d" % len(found))
with open("uv", "wb") as out:
    out.write(found[0])
os.chmod("uv", 0o755)
"""


@rule(desc="Find the uv binary", level=LogLevel.DEBUG)
async def uv_binary(tool: UvToolPex, isolation: UvIsolation, uv: UvTool) -> UvBinary:
    # Taken from the tool's own pex (which a remote cache holds, zipped, like any of Pants' pex builds) by
    # a short local process whose 38 MB output never goes to the remote cache: on a fresh CI machine it
    # costs a fraction of a second, where downloading it from the cache took longer than building it.
    result = await Get(FallibleProcessResult, Process(
        argv=(isolation.python.path, "-c", EXTRACT_BINARY, tool.pex.pex_filename),
        input_digest=tool.pex.digest,
        output_files=("uv",),
        description="Extract uv's binary from the uv tool",
        level=LogLevel.DEBUG,
        cache_scope=ProcessCacheScope.PER_RESTART_SUCCESSFUL,
    ))
    if result.exit_code != 0:
        raise PackagingError(
            f"the uv tool's requirements ({', '.join(uv.requirements) or '[uv].install_from_resolve'}) install no "
            "single `uv` executable: `[uv].install_from_resolve` must name a resolve that pins the `uv` package "
            f"(uv {UV_VERSION}), or leave it unset for the built-in lockfile. "
            f"{result.stderr.decode(errors='replace').strip()}"
        )
    return UvBinary(result.output_digest)


def _runner_source() -> bytes:
    data = pkgutil.get_data("peach.uv", "runner.py")
    assert data is not None, "peach/uv/runner.py is part of the plugin"
    return data


def rules():
    return [*collect_rules(), *UvTool.rules()]
