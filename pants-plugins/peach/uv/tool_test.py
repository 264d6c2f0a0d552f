"""How the image's interpreter is found: a cheap `python<version>` lookup on Pants' search path,
and Pex's interpreter discovery only when no binary of that name runs as the right version."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path, PurePath
from typing import List

import pytest

from pants.backend.python.util_rules.interpreter_constraints import InterpreterConstraints
from pants.backend.python.util_rules.pex import PexRequest, VenvPexProcess
from pants.backend.python.util_rules.pex_environment import PythonExecutable
from pants.backend.python.util_rules.pex_requirements import EntireLockfile, PexRequirements, Resolve
from pants.core.subsystems.python_bootstrap import PythonBootstrap
from pants.core.util_rules.system_binaries import BinaryPath, BinaryPathRequest, BinaryPaths
from pants.engine.env_vars import EnvironmentVars, EnvironmentVarsRequest
from pants.engine.fs import CreateDigest, Digest, FileContent, MergeDigests
from pants.engine.process import Process
from pants.option.global_options import NamedCachesDirOption
from pants.testutil.option_util import create_subsystem
from pants.testutil.rule_runner import MockGet, run_rule_with_mocks

from peach.environments.lock_test import peach
from peach.subsystem import PeachSubsystem
from peach.uv.credentials import uv_credentials
from peach.uv.tool import (
    PASSED_ENV,
    UV_BINARY_DIR,
    UvBinary,
    UvInterpreter,
    UvIsolation,
    UvProcess,
    UvTool,
    uv_interpreter,
    uv_isolation,
    EXTRACT_BINARY,
    UvToolPex,
    uv_message,
    uv_process,
    version_test,
    with_interpreter,
)

THIS_VERSION = "%d.%d" % sys.version_info[:2]
SEARCH = PythonBootstrap(interpreter_names=("python", "python3"),
                         interpreter_search_paths=("/opt/pythons/a/bin", "/usr/bin"))


def run_version_test(python_version: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *version_test(python_version).args], capture_output=True, text=True)


def test_version_test_accepts_only_cpython_of_that_minor_version() -> None:
    ok = run_version_test(THIS_VERSION)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == sys.version  # the fingerprint changes with an upgrade
    major, minor = sys.version_info[:2]
    for other in (f"{major}.{minor + 1}", f"{major}.{minor}0", f"{major}", "3.11; import os"):
        assert run_version_test(other).returncode == 1, other


def find(python_version: str, found: BinaryPaths, discovered: PythonExecutable) -> UvInterpreter:
    requests = []

    def binary_paths(request: BinaryPathRequest) -> BinaryPaths:
        requests.append(request)
        return found

    def pex_discovery(constraints: InterpreterConstraints) -> PythonExecutable:
        assert constraints == InterpreterConstraints([f"CPython=={python_version}.*"])
        return discovered

    result = run_rule_with_mocks(
        uv_interpreter,
        rule_args=[create_subsystem(PeachSubsystem, python_version=python_version), SEARCH],
        mock_gets=[
            MockGet(output_type=BinaryPaths, input_types=(BinaryPathRequest,), mock=binary_paths),
            MockGet(output_type=PythonExecutable, input_types=(InterpreterConstraints,), mock=pex_discovery),
        ],
    )
    (request,) = requests
    assert request.binary_name == f"python{python_version}"
    assert tuple(request.search_path) == SEARCH.interpreter_search_paths
    assert request.test == version_test(python_version)
    return result


def test_the_first_passing_binary_on_the_search_path_is_the_interpreter() -> None:
    found = BinaryPaths("python3.11", [BinaryPath("/opt/pythons/a/bin/python3.11", "f1"),
                                       BinaryPath("/usr/bin/python3.11", "f2")])
    discovered = PythonExecutable("/elsewhere/python3.11", "f3")
    assert find("3.11", found, discovered) == UvInterpreter("/opt/pythons/a/bin/python3.11", "f1")


def test_pex_discovery_when_no_binary_has_the_versioned_name() -> None:
    discovered = PythonExecutable("/opt/image/bin/python3", "f3")
    assert find("3.11", BinaryPaths("python3.11", []), discovered) == UvInterpreter("/opt/image/bin/python3", "f3")


def test_the_built_in_lockfile_tool_pex_runs_on_the_image_interpreter() -> None:
    uv = create_subsystem(UvTool, version=UvTool.default_version, requirements=UvTool.default_requirements,
                          interpreter_constraints=UvTool.default_interpreter_constraints,
                          install_from_resolve=None, console_script=None, entry_point=None,
                          extra_requirements=[], lockfile="<default>")
    request = uv.to_pex_request(interpreter_constraints=uv.interpreter_constraints)
    assert isinstance(request.requirements, EntireLockfile)
    python = PythonExecutable("/opt/pythons/a/bin/python3.11", "f1")
    built = with_interpreter(request, python)
    # Pants 2.17's build_pex would refill blank constraints from a named resolve and reject the pair.
    assert (built.python, built.interpreter_constraints) == (python, InterpreterConstraints())
    assert built.requirements.lockfile.url == request.requirements.lockfile.url
    assert built.requirements.lockfile.resolve_name == ""


def test_a_user_resolve_keeps_its_constraints() -> None:
    request = PexRequest(output_filename="uv.pex", internal_only=True,
                         requirements=PexRequirements(["uv==0.13.9"], from_superset=Resolve("tools", False)),
                         interpreter_constraints=InterpreterConstraints(["CPython>=3.9,<4"]))
    assert with_interpreter(request, PythonExecutable("/usr/bin/python3.11", "f2")) == request


# What a uv process is made of: the caller's environment below holds secrets and uv settings that
# must not reach it, TLS and proxy settings that must.
SECRET = "s3cr3t-pw"
CALLER = {
    "UV_INDEX_PRIVATE_USERNAME": "ci", "UV_INDEX_PRIVATE_PASSWORD": SECRET, "UV_INDEX_PUBLIC_PASSWORD": SECRET,
    "HTTPS_PROXY": "http://proxy.example.invalid:3128", "SSL_CERT_FILE": "/etc/ssl/corp.pem",
    "UV_INDEX_URL": "https://elsewhere.example.invalid/simple", "UV_CONFIG_FILE": "/users/someone/uv.toml",
    "PIP_INDEX_URL": "https://elsewhere.example.invalid/simple", "HOME": "/users/someone", "PATH": "/usr/bin",
    "AWS_SECRET_ACCESS_KEY": SECRET, "XDG_CONFIG_DIRS": "/etc/xdg",
}
SANDBOX_ENV = {"HOME", "XDG_CONFIG_HOME", "XDG_CONFIG_DIRS", "UV_CACHE_DIR", "UV_CREDENTIALS_DIR",
               "UV_PYTHON_DOWNLOADS", "UV_NO_PROGRESS", "SSL_CERT_FILE", "HTTPS_PROXY", "NETRC"}


def caller_env(requests: List[EnvironmentVarsRequest]):
    """Pants' answer for the caller's environment (only the names requested), recording each request."""
    def mock(request: EnvironmentVarsRequest) -> EnvironmentVars:
        requests.append(request)
        return EnvironmentVars({k: CALLER[k] for k in request.requested if k in CALLER})
    return mock


def isolation_of(tmp_path, files: List[FileContent]) -> UvIsolation:
    """`uv_credentials` and `uv_isolation` over `CALLER`, the isolation's files recorded in `files`."""
    credentials = run_rule_with_mocks(
        uv_credentials,
        rule_args=[peach(private_index="https://pypi.example.invalid/simple", private_index_name="private",
                         public_index="https://mirror.example.invalid/simple"),
                   NamedCachesDirOption(PurePath(tmp_path))],
        mock_gets=[MockGet(EnvironmentVars, (EnvironmentVarsRequest,), caller_env([]))],
    )
    requests: List[EnvironmentVarsRequest] = []

    def create(request: CreateDigest) -> Digest:
        files.extend(request)
        return Digest("1" * 64, 1)

    isolation = run_rule_with_mocks(
        uv_isolation,
        rule_args=[credentials],
        mock_gets=[MockGet(Digest, (CreateDigest,), create),
                   MockGet(UvInterpreter, (), lambda: UvInterpreter("/opt/python3.11", "f1")),
                   MockGet(EnvironmentVars, (EnvironmentVarsRequest,), caller_env(requests))],
    )
    assert [tuple(r.requested) for r in requests] == [PASSED_ENV]
    return isolation


def uv_tool() -> UvTool:
    return create_subsystem(UvTool, version=UvTool.default_version, requirements=UvTool.default_requirements,
                            interpreter_constraints=UvTool.default_interpreter_constraints,
                            install_from_resolve=None, console_script=None, entry_point=None,
                            extra_requirements=[], lockfile="<default>", remote_cache_speculation_delay=1000)


def test_a_uv_process_gets_the_isolation_and_no_secret_nor_other_caller_variable(tmp_path) -> None:
    files: List[FileContent] = []
    isolation = isolation_of(tmp_path, files)
    merged: List[MergeDigests] = []
    made: List[VenvPexProcess] = []

    def process(request: VenvPexProcess) -> Process:
        made.append(request)
        return Process(argv=request.argv, description=request.description, env=request.extra_env,
                       input_digest=request.input_digest, append_only_caches=request.append_only_caches)

    def merge(request: MergeDigests) -> Digest:
        merged.append(request)
        return Digest("2" * 64, 2)

    uv = uv_tool()
    inputs = Digest("3" * 64, 3)
    result = run_rule_with_mocks(
        uv_process,
        rule_args=[UvProcess(("lock",), inputs, "lock", lock="uv.lock", http_timeout=30, http_retries=0), uv,
                   isolation],
        mock_gets=[MockGet(UvToolPex, (), lambda: UvToolPex("uv.pex")),  # type: ignore[arg-type]
                   MockGet(Digest, (MergeDigests,), merge),
                   MockGet(UvBinary, (), lambda: pytest.fail("a runner process needs no bare binary")),
                   MockGet(Process, (VenvPexProcess,), process)],
    )
    env = dict(result.env)
    assert set(env) == SANDBOX_ENV | {"PEACH_UV_LOCK", "UV_HTTP_TIMEOUT", "UV_HTTP_RETRIES"}
    assert (env["SSL_CERT_FILE"], env["HTTPS_PROXY"]) == (CALLER["SSL_CERT_FILE"], CALLER["HTTPS_PROXY"])
    assert env["HOME"] == "{chroot}/.peach/home" and env["XDG_CONFIG_DIRS"] == "{chroot}/.peach/sysconfig"
    assert env["NETRC"].startswith("{chroot}/.peach/secrets/")
    # No secret anywhere in the process, in the files it is given, or in the netrc's path.
    assert not any(SECRET in v for v in (*env.values(), *result.argv, *(f.content.decode() for f in files)))
    # The empty system uv.toml is where XDG_CONFIG_DIRS points, and it is in the sandbox.
    assert FileContent(".peach/sysconfig/uv/uv.toml", b"") in files
    assert merged == [MergeDigests([inputs, isolation.files])]
    assert result.input_digest == Digest("2" * 64, 2)
    # The shared uv cache and the credentials' cache are mounted where the variables say.
    assert dict(result.append_only_caches) == {"peach_uv": ".cache/uv", "peach_credentials": ".peach/secrets"}
    assert env["UV_CACHE_DIR"] == "{chroot}/.cache/uv"
    assert result.argv == ("lock", "--python", "/opt/python3.11")
    assert result.remote_cache_speculation_delay_millis == 1000


def test_a_uv_process_that_needs_no_runner_runs_the_binary_with_the_same_isolation(tmp_path) -> None:
    isolation = isolation_of(tmp_path, [])
    binary = Digest("5" * 64, 5)

    def no_pex(*request):
        raise AssertionError(f"a direct uv process needs no pex: {request}")

    result = run_rule_with_mocks(
        uv_process,
        rule_args=[UvProcess(("lock", "--directory", "p"), Digest("3" * 64, 3), "lock p", output_files=("p/uv.lock",),
                             lock="p/uv.lock", relocate=False, http_timeout=30),
                   uv_tool(), isolation],
        mock_gets=[MockGet(UvToolPex, (), no_pex),
                   MockGet(Digest, (MergeDigests,), lambda r: Digest("2" * 64, 2)),
                   MockGet(UvBinary, (), lambda: UvBinary(binary)),
                   MockGet(Process, (VenvPexProcess,), no_pex)],
    )
    assert result.argv == (f"{UV_BINARY_DIR}/uv", "lock", "--directory", "p", "--python", "/opt/python3.11")
    assert dict(result.immutable_input_digests) == {UV_BINARY_DIR: binary}
    assert result.input_digest == Digest("2" * 64, 2) and result.output_files == ("p/uv.lock",)
    # The runner's variables are not set (nothing is relocated); the isolation is the runner's.
    assert set(result.env) == SANDBOX_ENV | {"UV_HTTP_TIMEOUT"}
    assert result.env["HOME"] == "{chroot}/.peach/home" and result.env["UV_CACHE_DIR"] == "{chroot}/.cache/uv"
    assert dict(result.append_only_caches) == {"peach_uv": ".cache/uv", "peach_credentials": ".peach/secrets"}
    assert result.remote_cache_speculation_delay_millis == 1000


def extract(pex: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", EXTRACT_BINARY, pex.name], cwd=pex.parent, capture_output=True,
                          text=True)


def test_the_binary_is_the_uv_wheels_executable_taken_from_the_tools_pex(tmp_path: Path) -> None:
    # Pex's packed layout: each wheel's installed files zipped as `.deps/<wheel>`.
    deps = tmp_path / "packed/uv.pex/.deps"
    deps.mkdir(parents=True)
    with zipfile.ZipFile(deps / "uv-0.13.9-py3-none-manylinux_2_17_x86_64.whl", "w") as wheel:
        wheel.writestr(".prefix/bin/uv", b"\x7fELF uv")
        wheel.writestr(".prefix/bin/uvx", b"\x7fELF uvx")
        wheel.writestr("uv/__init__.py", b"")
    with zipfile.ZipFile(deps / "other-1.0-py3-none-any.whl", "w") as wheel:
        wheel.writestr(".prefix/bin/uv", b"not this one")
    assert extract(tmp_path / "packed/uv.pex").returncode == 0
    binary = tmp_path / "packed/uv"
    assert binary.read_bytes() == b"\x7fELF uv" and os.access(binary, os.X_OK)
    # The loose layout: the same files, unzipped.
    loose = tmp_path / "loose/uv.pex/.deps/uv-0.13.9-py3-none-manylinux_2_17_x86_64.whl/.prefix/bin"
    loose.mkdir(parents=True)
    (loose / "uv").write_bytes(b"\x7fELF loose")
    assert extract(tmp_path / "loose/uv.pex").returncode == 0
    assert (tmp_path / "loose/uv").read_bytes() == b"\x7fELF loose"
    # A resolve without uv: a clear failure, no file.
    (tmp_path / "none/uv.pex/.deps").mkdir(parents=True)
    failed = extract(tmp_path / "none/uv.pex")
    assert failed.returncode != 0 and "found 0" in failed.stderr and not (tmp_path / "none/uv").exists()


def test_uv_messages_show_paths_relative_to_the_build_root() -> None:
    stderr = (b"error: Failed to parse: `/srv/ci/pants-sandbox-Ab12cD/dist/peach/debr/base/pyproject.toml`\n"
              b"  at file:///srv/ci/build/pants-sandbox-Q9/3rdparty/wheels\n")
    assert uv_message(stderr) == ("error: Failed to parse: `dist/peach/debr/base/pyproject.toml`\n"
                                  "  at 3rdparty/wheels\n")
    assert uv_message(b"Resolved 3 packages in 1ms\n") == "Resolved 3 packages in 1ms\n"
