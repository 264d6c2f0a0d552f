"""A new machine: the README's first command from a fresh clone, every cache empty, under a hostile
pip configuration of every kind; then the core promises, checked on the example itself.

Empty: HOME (so Pants' caches and named caches, the launcher's cache and its virtualenv are new).
Hostile: a user pip.conf, a site pip.conf and PIP_* variables that would break or redirect any pip
that read them (an unreachable index, `no-index`, constraints on versions that do not exist), seen
by the launcher and, through `[subprocess-environment]`, by every process Pants runs; and uv
variables that would redirect uv.
"""
from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Dict, Iterator

import pytest
import tomlkit
from packaging.markers import Marker

from peach_e2e.repo import Checkout, Run, user_env

ENVIRONMENTS = ("debr/base", "debr/codops-gateway", "debr/reporting", "zzebu/base", "zzebu/codops-gateway", "zzebu/ml")
LINUX_X86_64 = {"sys_platform": "linux", "platform_machine": "x86_64", "platform_system": "Linux", "os_name": "posix",
                "python_version": "3.11", "python_full_version": "3.11.0", "implementation_name": "cpython",
                "platform_python_implementation": "CPython", "extra": ""}


def hostile_pip(root: Path) -> Dict[str, str]:
    """Files and variables that break any pip that reads them."""
    dead = "http://127.0.0.1:9/simple"
    constraints = root / "constraints.txt"
    constraints.write_text("".join(f"{name}==0.0.0.1\n" for name in (
        "pantsbuild.pants", "pex", "pip", "setuptools", "pytest", "tomlkit", "uv", "packaging", "pyyaml", "toml")))
    home_conf = root / "home/.config/pip/pip.conf"
    home_conf.parent.mkdir(parents=True)
    home_conf.write_text(f"[global]\nindex-url = {dead}\nno-index = true\nconstraint = {constraints}\n"
                         "find-links = /nonexistent\n")
    site = root / "site"
    (site / "pip").mkdir(parents=True)
    (site / "pip/pip.conf").write_text(f"[global]\nconstraint = {constraints}\nextra-index-url = {dead}\n")
    variables = {"PIP_INDEX_URL": dead, "PIP_NO_INDEX": "1", "PIP_CONSTRAINT": str(constraints),
                 "PIP_FIND_LINKS": "/nonexistent", "PIP_REQUIRE_VIRTUALENV": "1"}
    seen_by_pants = [f"XDG_CONFIG_DIRS={site}", f"HOME={root / 'home'}", *(f"{k}={v}" for k, v in variables.items())]
    return {
        "HOME": str(root / "home"),
        "XDG_CONFIG_DIRS": str(site),
        **variables,
        "PANTS_SUBPROCESS_ENVIRONMENT_ENV_VARS": "+" + json.dumps(seen_by_pants),
        # uv, too, must not be moved by the caller's environment.
        "UV_INDEX_URL": dead, "UV_NO_SOURCES": "1", "UV_INDEX_STRATEGY": "unsafe-best-match",
    }


@pytest.fixture(scope="module")
def machine(tmp_path_factory) -> Iterator[Checkout]:
    root = tmp_path_factory.mktemp("new-machine")
    env = hostile_pip(root)
    env.pop("XDG_CACHE_HOME", None)
    checkout = Checkout.clone(root / "clone" / "peach", {**env, "XDG_CACHE_HOME": str(root / "home/.cache")})
    assert not (root / "home/.cache").exists()
    try:
        yield checkout
    finally:
        checkout.stop()


def python311() -> str:
    roots = [os.environ.get("PYENV_ROOT", ""), os.path.expanduser("~/.pyenv")]
    for found in sorted((p for r in roots if r for p in glob.glob(f"{r}/versions/3.11*/bin/python3.11")), reverse=True):
        return found
    return shutil.which("python3.11") or "python3.11"


def uv(args, cwd: Path, tmp: Path) -> str:
    from uv import find_uv_bin

    proc = subprocess.run([find_uv_bin(), *args, "--python", python311()], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env=user_env({"UV_CACHE_DIR": str(tmp / "uv-cache"), "HOME": str(tmp),
                                                      "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}))
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def installed_on_linux(exported: str) -> Dict[str, str]:
    """`name==version ; marker` lines: what linux x86_64 / CPython 3.11 installs."""
    found = {}
    for line in exported.splitlines():
        match = re.match(r"^([A-Za-z0-9._-]+)==(\S+)(?:\s*;\s*(.*))?$", line.strip())
        if match and (not match.group(3) or Marker(match.group(3)).evaluate(LINUX_X86_64)):
            found[match.group(1).lower().replace("_", "-")] = match.group(2)
    return found


def check(run: Run) -> Run:
    assert run.returncode == 0, run.stderr
    assert "Traceback (most recent call last)" not in run.stderr
    return run


def test_the_core_holds_on_a_new_machine(machine: Checkout, tmp_path: Path) -> None:
    # 1. The README's first command, on a machine nobody prepared.
    check(machine.pants("package", "::", timeout=1500))
    dist = machine.path / "dist/peach"
    assert sorted(str(p.parent.relative_to(dist)) for p in dist.glob("*/*/uv.lock")) == list(ENVIRONMENTS)
    for codops in ("debr", "zzebu"):
        summary = json.loads((dist / codops / "environments.json").read_text())
        on_disk = sorted(p.name for p in (dist / codops).iterdir() if p.is_dir())
        assert sorted(summary["environments"]) == on_disk
    fresh = {env: (dist / env / "uv.lock").read_text() for env in ENVIRONMENTS}

    # 2. The ml lock is right for the image: each package as a platform-specific resolution installs it
    #    (from the project without the metadata peach declared), torch's CUDA packages included.
    ml = dist / "zzebu/ml"
    locked = installed_on_linux(uv(["export", "--frozen", "--no-hashes", "--no-header", "--no-annotate",
                                    "--no-emit-project"], ml, tmp_path))
    oracle_dir = dist / "zzebu/ml-oracle"
    oracle_dir.mkdir()
    pyproject = tomlkit.parse((ml / "pyproject.toml").read_text())
    assert [m["name"] for m in pyproject["tool"]["uv"]["dependency-metadata"]] == ["torch"]
    del pyproject["tool"]["uv"]["dependency-metadata"]
    (oracle_dir / "pyproject.toml").write_text(tomlkit.dumps(pyproject))
    resolved = installed_on_linux(uv(["pip", "compile", "pyproject.toml", "--python-version", "3.11",
                                      "--python-platform", "x86_64-manylinux_2_28", "--no-header", "--no-annotate"],
                                     oracle_dir, tmp_path))
    shutil.rmtree(oracle_dir)
    assert locked == resolved
    assert "triton" in locked and len([n for n in locked if n.startswith("nvidia-")]) == 11

    # 3. Committed lockfiles for every environment; packaging with nothing changed ships them.
    resolves = [f"--resolve=peach/{env}" for env in ENVIRONMENTS]
    check(machine.pants("generate-lockfiles", *resolves))
    committed = {env: machine.read(f"3rdparty/peach/locks/{env}/uv.lock") for env in ENVIRONMENTS}
    for env, text in committed.items():
        assert str(machine.path) not in text and "file:///tmp" not in text, env
    check(machine.pants("package", "::"))
    for env in ENVIRONMENTS:
        shipped = (dist / env / "uv.lock").read_text()
        assert shipped == committed[env].replace("file:///$PEACH_BUILD_ROOT", f"file://{machine.path}")
        # The same inputs give the same lock, whether it started from a committed lock or from nothing.
        assert shipped == fresh[env], env

    # 4. A lock generated in one clone is current in another, at another path, without any cache hit.
    other = Checkout.clone(tmp_path / "elsewhere" / "deeper" / "peach", machine.env)
    try:
        for env, text in committed.items():
            other.write({f"3rdparty/peach/locks/{env}/uv.lock": text})
        run = check(other.pants("package", "::", env={"PANTS_LOCAL_CACHE": "false"}))
        assert "Completed: uv lock zzebu/ml (check)" in run.stderr
        assert (other.path / "dist/peach/zzebu/ml/uv.lock").read_text() == committed["zzebu/ml"].replace(
            "file:///$PEACH_BUILD_ROOT", f"file://{other.path}")
    finally:
        other.stop()

    # 5. A stale committed lock fails, showing what would change.
    config = machine.path / "example/zzebu/peach.conf/environments.yaml"
    config.write_text(config.read_text().replace("      - numpy<2\n", "      - numpy<2\n      - tabulate\n"))
    run = machine.pants("package", "//:peach#zzebu/ml")
    assert run.returncode != 0
    assert "The committed lockfile 3rdparty/peach/locks/zzebu/ml/uv.lock of environment `zzebu/ml` is stale" in run.stderr
    assert re.search(r"^\s+\+ tabulate==\S+$", run.stderr, re.MULTILINE), run.stderr
    assert "requirement + tabulate" in run.stderr
    assert "pants generate-lockfiles --resolve=peach/zzebu/ml" in run.stderr

    # 6. dist/peach matches the build: a deleted environment, then a deleted codops, disappear.
    shutil.rmtree(machine.path / "3rdparty/peach/locks")
    debr = machine.path / "example/debr/peach.yaml"
    text = debr.read_text()
    assert "  reporting:\n" in text
    debr.write_text(re.sub(r"  reporting:\n(    .*\n)+", "", text).replace("py_env: reporting", "py_env: base"))
    check(machine.pants("package", "::"))
    assert sorted(p.name for p in (dist / "debr").iterdir()) == [
        "base", "codops-gateway", "environments.json", "lock-changes.json"]
    shutil.rmtree(machine.path / "example/debr")
    check(machine.pants("package", "::"))
    assert sorted(p.name for p in dist.iterdir()) == ["zzebu"]
