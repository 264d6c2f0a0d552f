"""How the image's interpreter is found: a cheap `python<version>` lookup on Pants' search path,
and Pex's interpreter discovery only when no binary of that name runs as the right version."""
from __future__ import annotations

import subprocess
import sys

from pants.backend.python.util_rules.interpreter_constraints import InterpreterConstraints
from pants.backend.python.util_rules.pex import PexRequest
from pants.backend.python.util_rules.pex_environment import PythonExecutable
from pants.backend.python.util_rules.pex_requirements import EntireLockfile, PexRequirements, Resolve
from pants.core.subsystems.python_bootstrap import PythonBootstrap
from pants.core.util_rules.system_binaries import BinaryPath, BinaryPathRequest, BinaryPaths
from pants.testutil.option_util import create_subsystem
from pants.testutil.rule_runner import MockGet, run_rule_with_mocks

from peach.subsystem import PeachSubsystem
from peach.uv.tool import UvInterpreter, UvTool, uv_interpreter, version_test, with_interpreter

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
