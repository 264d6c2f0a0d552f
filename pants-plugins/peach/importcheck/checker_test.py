"""The import checker, run for real in a virtualenv that holds fake distributions.

The virtualenv is made with the standard library's `venv` (no pip, nothing downloaded); each fake
distribution is written into its site-packages as an installer would (modules, `.dist-info` with
METADATA and RECORD), so the checker reads them through `importlib.metadata` as it reads uv's.
"""
from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path
from typing import Dict, Optional

import pytest

from peach.importcheck import checker
from peach.importcheck.checker import Origin, install_failure, modules_from_files, render_report

NUMPY_MESSAGE = "A module that was compiled using NumPy 1.x cannot be run in NumPy 2.4.6 as it may crash."

# name -> (version, {path in site-packages: text}, write RECORD?, top_level.txt or None)
FAKES = {
    "good-pkg": ("1.0", {"good_pkg/__init__.py": "VALUE = 1\n", "good_pkg/sub.py": ""}, True, None),
    # A warning at import, and a message written straight to stderr (numpy 2 under torch 2.0).
    "fake-torch": ("2.0.0", {"fake_torch/__init__.py": (
        "import sys, warnings\n"
        f"sys.stderr.write({NUMPY_MESSAGE!r} + '\\n')\n"
        "warnings.warn('Failed to initialize NumPy: _ARRAY_API not found', UserWarning)\n")}, True, None),
    # Import name differs from the project name; logs through its own handler without propagating
    # (transformers' library logger does that).
    "fake-transformers": ("5.25.0", {"chatty/__init__.py": (
        "import logging, sys\n"
        "log = logging.getLogger('chatty')\n"
        "log.addHandler(logging.StreamHandler(sys.stderr))\n"
        "log.propagate = False\n"
        "log.warning('Disabling PyTorch because PyTorch >= 2.6 is required but found 2.0.0')\n"
        "logging.getLogger('chatty.quiet').info('an info record is fine')\n")}, True, None),
    "broken": ("0.1", {"broken/__init__.py": "raise ImportError('libfoo.so.1: cannot open shared object file')\n"},
               True, None),
    "crasher": ("0.1", {"crasher.py": "import os\nos._exit(3)\n"}, True, None),
    # Only data: nothing to import.
    "data-only": ("3.0", {"data_only_files/table.json": "{}\n"}, True, None),
    # A namespace directory: its package is imported.
    "ns-pkg": ("1.2", {"nsroot/inner/__init__.py": "", "nsroot/inner/core.py": ""}, True, None),
    # Deprecation warnings are hidden by Python outside __main__: they do not fail.
    "old-api": ("1.0", {"old_api.py": "import warnings\nwarnings.warn('use new_api', DeprecationWarning)\n"},
                True, None),
    # No RECORD: top_level.txt says what to import.
    "legacy-egg": ("0.9", {"legacy_mod.py": "X = 1\n"}, False, "legacy_mod\n"),
    # A private helper module beside the public package: only the public one is imported.
    "with-hack": ("70.0", {"_with_hack.py": "raise RuntimeError('never imported')\n", "withhack/__init__.py": ""},
                  True, None),
}


def _write_dist(site: Path, name: str, version: str, files: Dict[str, str], record: bool,
                top_level: Optional[str]) -> None:
    info = f"{name.replace('-', '_')}-{version}.dist-info"
    for rel, text in files.items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text(text)
    (site / info).mkdir()
    (site / info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    listed = [*files, f"{info}/METADATA"]
    if top_level is not None:
        (site / info / "top_level.txt").write_text(top_level)
        listed.append(f"{info}/top_level.txt")
    if record:
        (site / info / "RECORD").write_text("".join(f"{p},,\n" for p in [*listed, "../../bin/a-script"])
                                            + f"{info}/RECORD,,\n")


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=False).create(root)
    python = root / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    for name, (version, files, record, top_level) in FAKES.items():
        _write_dist(site, name, version, files, record, top_level)
    return root


def _check(env: Path, tmp_path: Path, packages, **settings):
    spec = tmp_path / "input.json"
    spec.write_text(json.dumps({"packages": list(packages), **settings}))
    out = tmp_path / "result.json"
    proc = subprocess.run([str(env / "bin" / "python"), checker.__file__, str(spec), str(out)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    return proc, json.loads(out.read_text())


def _by_package(result):
    return {p["package"]: p for p in result["packages"]}


def test_clean_packages_pass(env: Path, tmp_path: Path) -> None:
    proc, result = _check(env, tmp_path, ["good-pkg", "ns-pkg", "old-api", "legacy-egg", "with-hack"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    packages = _by_package(result)
    assert {p: [m["module"] for m in packages[p]["modules"]] for p in packages} == {
        "good-pkg": ["good_pkg"], "ns-pkg": ["nsroot.inner"], "old-api": ["old_api"],
        "legacy-egg": ["legacy_mod"], "with-hack": ["withhack"],
    }
    assert all(p["status"] == "ok" for p in packages.values())
    assert packages["good-pkg"]["version"] == "1.0"


def test_warning_log_exception_and_crash_fail(env: Path, tmp_path: Path) -> None:
    proc, result = _check(env, tmp_path, ["fake-torch", "fake-transformers", "broken", "crasher", "good-pkg"])
    assert proc.returncode == 1
    assert "4 failed: fake-torch, fake-transformers, broken, crasher" in proc.stdout
    packages = _by_package(result)
    torch = packages["fake-torch"]
    assert torch["status"] == "fail" and torch["version"] == "2.0.0"
    [module] = torch["modules"]
    assert module["module"] == "fake_torch"
    assert module["failures"] == [
        "warning: UserWarning: Failed to initialize NumPy: _ARRAY_API not found (fake_torch/__init__.py:3)"]
    assert module["stderr"] == [NUMPY_MESSAGE]
    [chatty] = packages["fake-transformers"]["modules"]
    assert chatty["module"] == "chatty"  # from RECORD: the import name differs from the project's
    assert chatty["failures"] == [
        "log WARNING (chatty): Disabling PyTorch because PyTorch >= 2.6 is required but found 2.0.0"]
    assert packages["broken"]["modules"][0]["failures"] == [
        "exception: ImportError: libfoo.so.1: cannot open shared object file"]
    assert packages["crasher"]["modules"][0]["failures"] == [
        "exception: Crash: the interpreter exited with code 3 before it finished"]
    assert packages["good-pkg"]["status"] == "ok"


def test_ignored_warnings_are_a_setting(env: Path, tmp_path: Path) -> None:
    proc, result = _check(env, tmp_path, ["old-api", "fake-torch"], ignored_warnings=["UserWarning"])
    packages = _by_package(result)
    assert packages["fake-torch"]["status"] == "ok"
    assert packages["old-api"]["modules"][0]["failures"] == [
        "warning: DeprecationWarning: use new_api (old_api.py:2)"]


def test_smoke_checks_and_skipped_modules(env: Path, tmp_path: Path) -> None:
    """Some breakage shows only on first use (torch 2.0 initialises NumPy lazily): a smoke check per
    package runs code after the imports, recorded the same way; `skip_modules` leaves modules out."""
    smoke = "import warnings, good_pkg\nwarnings.warn('Failed to initialize NumPy', UserWarning)\nraise RuntimeError('Numpy is not available')\n"
    proc, result = _check(env, tmp_path, ["good-pkg", "ns-pkg", "fake-torch"], smoke={"good-pkg": smoke},
                          skip_modules=["fake_torch", "nsroot.*"])
    assert proc.returncode == 1
    packages = _by_package(result)
    good = packages["good-pkg"]
    assert good["status"] == "fail"
    assert [m["module"] for m in good["modules"]] == ["good_pkg", "smoke check"]
    assert good["modules"][1]["failures"] == [
        "exception: RuntimeError: Numpy is not available",
        "warning: UserWarning: Failed to initialize NumPy (<smoke check>:2)"]
    assert packages["fake-torch"]["skipped"] == ["fake_torch"] and packages["fake-torch"]["modules"] == []
    assert packages["ns-pkg"]["skipped"] == ["nsroot.inner"] and packages["fake-torch"]["status"] == "ok"
    report = render_report("zzebu/ml", "//:peach#zzebu/ml", result, {})
    assert "  smoke check `import warnings, good_pkg" in report
    assert "note: fake-torch: not imported ([peach-import-check].skip_modules): fake_torch" in report


def test_no_modules_and_not_installed_are_notes_not_failures(env: Path, tmp_path: Path) -> None:
    proc, result = _check(env, tmp_path, ["data-only", "Not_There"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    packages = _by_package(result)
    assert packages["data-only"]["status"] == "no-modules" and packages["data-only"]["version"] == "3.0"
    assert packages["Not_There"]["status"] == "not-installed"


def test_report_names_package_version_module_message_and_config_line(env: Path, tmp_path: Path) -> None:
    _, result = _check(env, tmp_path, ["fake-torch", "fake-transformers", "data-only", "good-pkg"])
    origins = {
        "fake-torch": Origin("fake-torch==2.0", "environment", "example/zzebu/peach.conf/environments.yaml:10"),
        "fake-transformers": Origin("fake-transformers", "environment",
                                    "example/zzebu/peach.conf/environments.yaml:11"),
    }
    report = render_report("zzebu/ml", "//:peach#zzebu/ml", result, origins)
    assert report.startswith("environment `zzebu/ml`: 2 of 4 direct requirement(s) fail to import cleanly")
    assert ("FAIL fake-torch 2.0.0 (the locked version installed)\n"
            "  declared: `fake-torch==2.0` (environment, example/zzebu/peach.conf/environments.yaml:10)\n"
            "  import fake_torch:\n"
            "    warning: UserWarning: Failed to initialize NumPy: _ARRAY_API not found (fake_torch/__init__.py:3)\n"
            "    stderr meanwhile:\n"
            f"      | {NUMPY_MESSAGE}\n"
            "  why this version: pants peach-why --peach-why-package=fake-torch //:peach#zzebu/ml\n") in report
    assert ("FAIL fake-transformers 5.25.0 (the locked version installed)\n"
            "  declared: `fake-transformers` (environment, example/zzebu/peach.conf/environments.yaml:11)\n"
            "  import chatty:\n"
            "    log WARNING (chatty): Disabling PyTorch because PyTorch >= 2.6 is required but found 2.0.0\n") in report
    assert "note: data-only 3.0: installs no importable module (a plugin or data package)" in report
    assert report.rstrip().endswith("ok: good-pkg 1.0 (good_pkg)")


def test_a_passing_report() -> None:
    result = {"python": "3.11.7", "installed": 3, "packages": [
        {"package": "tqdm", "status": "ok", "version": "4.67.1", "modules": [
            {"module": "tqdm", "failures": [], "stderr": []}]}]}
    assert render_report("debr/base", "//:peach#debr/base", result, {}) == (
        "environment `debr/base`: all 1 importable direct requirement(s) import cleanly "
        "(Python 3.11.7, 3 installed distributions).\nok: tqdm 4.67.1 (tqdm)\n")


def test_install_failure_names_the_environment_and_uvs_message() -> None:
    text = install_failure("debr/reporting", "error: Distribution `tabulate==0.9.0` can't be installed\n")
    assert text.startswith("environment `debr/reporting`: the lock could not be installed")
    assert "  | error: Distribution `tabulate==0.9.0` can't be installed\n" in text


@pytest.mark.parametrize("files, expected", [
    (["six.py", "six-1.16.0.dist-info/RECORD"], ("six",)),
    (["yaml/__init__.py", "yaml/x.py", "_yaml/__init__.py", "PyYAML-6.0.dist-info/METADATA"], ("yaml",)),
    (["google/protobuf/__init__.py", "google/protobuf/x_pb2.py", "google/_upb/_message.abi3.so"],
     ("google.protobuf",)),
    (["only_private/_impl.py"], ("only_private._impl",)),
    (["_cffi_backend.cpython-311-x86_64-linux-gnu.so"], ("_cffi_backend",)),
    (["pkg/__init__.py", "tests/__init__.py", "tests/test_x.py", "../../bin/pkg"], ("pkg",)),
    (["share/data.json", "pkg-1.0.data/scripts/x"], ()),
    (["my-dir/mod.py"], ()),
])
def test_modules_from_files(files, expected) -> None:
    suffixes = (".cpython-311-x86_64-linux-gnu.so", ".abi3.so", ".so")
    assert modules_from_files(files, suffixes) == expected


def test_runs_on_this_interpreter_too() -> None:
    """The report functions run in the plugin (Python 3.9): the module imports cleanly there."""
    assert sys.version_info >= (3, 8)
    assert checker.canonical_name("Pipe_Algorithms.Lib") == "pipe-algorithms-lib"
