"""`pants package` end to end: real Pants, real uv, a real private index with basic auth and a local
public index that also serves a higher, hostile version of every private package.

The repo under test is a fresh clone of this one whose example is replaced by the configs below,
built once (`built`); every test may run alone, and one that edits the repo puts it back.
"""
from __future__ import annotations

import filecmp
import json
import re
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator

import pytest
import tomlkit

from peach_e2e.conftest import PASSWORD, USER, World
from peach_e2e.indexes import PypiServer, build_wheel
from peach_e2e.repo import Checkout, Run, user_env, uv_processes

ACME_ENVS = """\
codops: acme
py_environments:
  base:
    dependencies:
      - orjson-lite==3.10.0
      - httpx-lite
      - uvicorn-lite[standard]
  ml:
    dependencies:
      - torch-lite==2.0.0
      - transformers-lite
      - uvicorn-lite==0.30.0
  legacy:
    dependencies:
      - pipe-algorithms-lib==1.0.0
"""

ACME_ENDPOINTS = """\
codops: acme
endpoints:
  recommend:
    url: /recommend
    py_env: ml
    components:
      main: {notebook: nb.ipynb, method: recommend}
tasks:
  reindex: {notebook: nb.ipynb, method: run}
"""

BETA = """\
codops: beta
py_environments:
  base:
    dependencies: [tqdm-lite==4.68.2]
"""

NOTEBOOK = json.dumps({"cells": [{"cell_type": "code", "source": "def recommend(u):\n    pass\ndef run():\n    pass\n"}]})
STACK = "fastapi-lite==0.110.0\npydantic-lite==2.5.0\nstarlette-lite==0.37.0\n"

ACME_ENV_NAMES = ("base", "codops-gateway", "legacy", "ml")
# The environments with a `uv lock` of their own: a gateway inherits base alone and ships base's lock.
ACME_LOCKED = tuple(f"acme/{e}" for e in ACME_ENV_NAMES if e != "codops-gateway")
ENVS = "example/acme/peach.conf/envs.yaml"


def write_repo(checkout: Checkout) -> None:
    shutil.rmtree(checkout.path / "example")
    checkout.write({
        ENVS: ACME_ENVS,
        "example/acme/peach.conf/endpoints.yaml": ACME_ENDPOINTS,
        "example/acme/nb.ipynb": NOTEBOOK,
        "example/beta/peach.yaml": BETA,
        "3rdparty/peach/framework-stack.txt": STACK,
    })


def options(private: PypiServer, world: World) -> Dict[str, str]:
    return {
        "PANTS_PEACH_PRIVATE_INDEX": private.url,
        "PANTS_PEACH_PUBLIC_INDEX": world.public.url,
        "PANTS_PEACH_INJECTED_REQUIREMENTS": "['pipe-algorithms-lib', 'implicit-lite==0.7.2']",
        "UV_INDEX_PRIVATE_USERNAME": USER,
        "UV_INDEX_PRIVATE_PASSWORD": PASSWORD,
    }


@pytest.fixture(scope="module")
def private(world: World, tmp_path_factory) -> Iterator[PypiServer]:
    """This module's own private index (one test publishes a new release to it)."""
    copy = tmp_path_factory.mktemp("private") / "packages"
    shutil.copytree(world.world.private_dir, copy)
    with PypiServer(copy, auth=(USER, PASSWORD)) as server:
        yield server


@pytest.fixture(scope="module")
def repo(world: World, private: PypiServer, tmp_path_factory) -> Iterator[Checkout]:
    checkout = Checkout.clone(tmp_path_factory.mktemp("clone") / "peach", options(private, world))
    write_repo(checkout)
    try:
        yield checkout
    finally:
        checkout.stop()


@pytest.fixture(scope="module")
def built(repo: Checkout) -> Run:
    """The first build of the repo, with empty caches for its indexes (new ports)."""
    return package(repo)


def package(repo: Checkout, *args: str, **env: str) -> Run:
    run = repo.pants(*args, "package", "::", env=env)
    assert PASSWORD not in run.stdout + run.stderr
    return run


@contextmanager
def edited(repo: Checkout, path: str, old: str, new: str) -> Iterator[None]:
    original = repo.read(path)
    assert old in original
    repo.write({path: original.replace(old, new)})
    try:
        yield
    finally:
        repo.write({path: original})


def read_lock(repo: Checkout, env: str) -> str:
    return repo.read(f"dist/peach/{env}/uv.lock")


def locked_version(lock: str, name: str) -> str:
    match = re.search(rf'\[\[package\]\]\nname = "{re.escape(name)}"\nversion = "([^"]+)"\nsource = {{ registry = "([^"]+)"', lock)
    assert match, f"{name} is not in the lock"
    return f"{match.group(1)} from {match.group(2)}"


def test_cold_build_writes_every_project(repo: Checkout, built: Run, private: PypiServer, world: World) -> None:
    assert built.returncode == 0, built.stderr
    # The gateway inherits base alone: it ships base's lock under its own name, with no `uv lock` of its own.
    assert uv_processes(built) == [*ACME_LOCKED, "beta/base"]
    for env in ("acme/base", "acme/ml", "acme/codops-gateway", "beta/base"):
        # The private package comes from the private index, at its latest release, even though the
        # public index serves 99.0.0.
        assert locked_version(read_lock(repo, env), "pipe-algorithms-lib") == f"1.1.0 from {private.url}"
    assert locked_version(read_lock(repo, "acme/legacy"), "pipe-algorithms-lib") == f"1.0.0 from {private.url}"
    ml = read_lock(repo, "acme/ml")
    assert locked_version(ml, "uvicorn-lite") == f"0.30.0 from {world.public.url}"
    assert 'name = "httptools-lite"' in ml  # the [standard] extra inherited from base
    assert locked_version(ml, "torch-lite") == f"2.0.0 from {world.public.url}"
    # Each Wrote line once: the whole of dist/peach, each codops' directory, each project's files.
    wrote = re.findall(r"Wrote (\S+)", built.stderr)
    assert len(wrote) == len(set(wrote)) and "dist/peach" in wrote and "dist/peach/acme" in wrote
    assert "dist/peach/acme/ml/uv.lock" in wrote


def test_pyproject_and_environments_json(repo: Checkout, built: Run) -> None:
    assert built.returncode == 0, built.stderr
    pyproject = repo.read("dist/peach/acme/ml/pyproject.toml")
    assert pyproject.startswith("# Generated by peach for codops `acme`, environment `ml`.\n"
                                "# From: example/acme/peach.conf/envs.yaml.\n")
    assert tomlkit.parse(pyproject)["project"]["dependencies"] == [
        "pipe-algorithms-lib==1.1.0", "implicit-lite==0.7.2", "orjson-lite==3.10.0", "httpx-lite",
        "uvicorn-lite[standard]==0.30.0", "torch-lite==2.0.0", "transformers-lite",
        "fastapi-lite==0.110.0", "pydantic-lite==2.5.0", "starlette-lite==0.37.0",
    ]
    assert 'required-version = "==0.13.9"' in pyproject
    assert 'index-strategy = "first-index"' in pyproject
    assert 'pipe-algorithms-lib = {index = "private"}' in pyproject
    summary = json.loads(repo.read("dist/peach/acme/environments.json"))
    assert sorted(summary["environments"]) == list(ACME_ENV_NAMES)
    assert summary["environments"]["ml"]["project_dir"] == "peach/acme/ml"
    assert summary["endpoints"] == [{
        "component": "main", "endpoint": "recommend", "environment": "ml", "full_notebook": False,
        "method": "recommend", "notebook": "example/acme/nb.ipynb", "project_dir": "peach/acme/ml",
        "url": "/recommend",
    }]
    assert [t["environment"] for t in summary["tasks"]] == ["base"]


def test_no_secret_in_dist(repo: Checkout, built: Run) -> None:
    files = repo.dist_files()
    assert len(files) >= 14  # 7 projects of two files, 2 environments.json: dist is really there
    for path, content in files.items():
        assert PASSWORD.encode() not in content, path


def test_uv_sync_locked_installs_the_locked_versions(repo: Checkout, built: Run, tmp_path: Path) -> None:
    from uv import find_uv_bin

    from peach_e2e.new_machine_test import python311

    project = repo.path / "dist/peach/acme/ml"
    venv = tmp_path / "venv"
    proc = subprocess.run(
        [find_uv_bin(), "sync", "--locked", "--no-install-project", "--python", python311()],
        cwd=project, capture_output=True, text=True, timeout=300,
        env=user_env({"UV_PROJECT_ENVIRONMENT": str(venv), "UV_CACHE_DIR": str(tmp_path / "cache"),
                      "UV_INDEX_PRIVATE_USERNAME": USER, "UV_INDEX_PRIVATE_PASSWORD": PASSWORD,
                      "UV_PYTHON_DOWNLOADS": "never"}),
    )
    assert proc.returncode == 0, proc.stderr
    out = subprocess.run([str(venv / "bin/python"), "-c",
                          "import pipe_algorithms_lib as p, torch_lite as t, uvicorn_lite as u;"
                          "print(p.__version__, p.COMPROMISED, t.__version__, u.__version__)"],
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == ["1.1.0", "False", "2.0.0", "0.30.0"]


def test_the_gateway_lock_is_current_for_its_project(repo: Checkout, built: Run, tmp_path: Path) -> None:
    """The gateway's lock is base's renamed (no `uv lock` of its own): uv confirms it is the lock of
    the gateway's project, and would refuse base's lock as it is."""
    from uv import find_uv_bin

    from peach_e2e.new_machine_test import python311

    def locked(project: Path, *options: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [find_uv_bin(), "lock", "--locked", *options, "--python", python311()], cwd=project,
            capture_output=True, text=True, timeout=120,
            env=user_env({"UV_CACHE_DIR": str(tmp_path / "cache"), "UV_PYTHON_DOWNLOADS": "never",
                          "UV_INDEX_PRIVATE_USERNAME": USER, "UV_INDEX_PRIVATE_PASSWORD": PASSWORD}))

    for codops in ("acme", "beta"):
        gateway = repo.path / f"dist/peach/{codops}/codops-gateway"
        assert read_lock(repo, f"{codops}/codops-gateway") != read_lock(repo, f"{codops}/base")
        run = locked(gateway, "--offline")  # current as it is: uv needs no index to say so
        assert run.returncode == 0, run.stderr
        unrenamed = tmp_path / codops / "dist/peach" / codops / "codops-gateway"
        unrenamed.mkdir(parents=True)
        shutil.copy2(gateway / "pyproject.toml", unrenamed / "pyproject.toml")
        (unrenamed / "uv.lock").write_text(read_lock(repo, f"{codops}/base"))
        run = locked(unrenamed)
        assert run.returncode != 0 and "needs to be updated" in run.stderr, run.stderr


def test_noop_rebuild_runs_no_uv(repo: Checkout, built: Run) -> None:
    assert package(repo).returncode == 0
    run = package(repo)
    assert run.returncode == 0, run.stderr
    assert uv_processes(run) == []


def test_editing_one_environment_relocks_only_it(repo: Checkout, built: Run) -> None:
    with edited(repo, ENVS, "- transformers-lite", "- transformers-lite\n      - scipy-lite"):
        run = package(repo)
    assert run.returncode == 0, run.stderr
    assert uv_processes(run) == ["acme/ml"]


def test_editing_base_relocks_that_codops_only(repo: Checkout, built: Run) -> None:
    with edited(repo, ENVS, "- orjson-lite==3.10.0", "- orjson-lite==3.9.0"):
        run = package(repo)
    assert run.returncode == 0, run.stderr
    assert uv_processes(run) == list(ACME_LOCKED)


def test_new_private_release_relocks_the_environments_that_inherit_it(
    repo: Checkout, built: Run, private: PypiServer
) -> None:
    wheel = build_wheel(private.packages_dir, "pipe-algorithms-lib", "1.2.0", ("numpy-lite>=1",))
    try:
        run = package(repo)
        assert run.returncode == 0, run.stderr
        # `legacy` pins 1.0.0 itself, so it does not change.
        assert uv_processes(run) == ["acme/base", "acme/ml", "beta/base"]
        assert locked_version(read_lock(repo, "acme/ml"), "pipe-algorithms-lib") == f"1.2.0 from {private.url}"
    finally:
        wheel.unlink()


# The import check (`pants test` on a py_environment) against the local index world, where every
# package is ours: its verdict cannot change with the day. This repo's pants.toml skips every environment
# in `./pants test ::` (the example's lock unpinned packages from live PyPI), so these runs turn it on.
CHECK_ALL = {"PANTS_PEACH_IMPORT_CHECK_SKIP_ENVIRONMENTS": "['acme/ml']"}
BETA_BASE = "//:peach#beta/base"


def test_import_check_is_a_cached_pants_test(repo: Checkout, built: Run) -> None:
    run = repo.pants("test", "--test-output=all", BETA_BASE, env=CHECK_ALL)
    assert run.returncode == 0, run.stderr
    # pipe-algorithms-lib, implicit-lite, tqdm-lite and the three framework packages.
    assert "environment `beta/base`: all 6 importable direct requirement(s) import cleanly" in run.stderr, run.stderr
    assert re.search(r"^ok: .*\btqdm-lite 4\.68\.2 \(tqdm_lite\)", run.stderr, re.MULTILINE), run.stderr
    # An unchanged lock is not checked again.
    again = repo.pants("test", BETA_BASE, env=CHECK_ALL)
    assert re.search(r"beta/base succeeded in [\d.]+s \((memoized|cached locally)\)", again.stderr), again.stderr
    # An environment can be skipped by option.
    skipped = repo.pants("test", "//:peach#acme/ml", env=CHECK_ALL)
    assert skipped.returncode == 0, skipped.stderr
    assert "skipped acme/ml ([peach-import-check].skip_environments)" in skipped.stderr, skipped.stderr
    assert "acme/ml succeeded" not in skipped.stderr and "acme/ml failed" not in skipped.stderr


def test_import_check_fails_on_a_warning_with_the_version_module_and_config_line(
    repo: Checkout, built: Run, private: PypiServer
) -> None:
    # A new release of the injected private package that warns at import: the environments take it.
    source = ("import warnings\n"
              "warnings.warn('pipe-algorithms-lib 1.3.0 needs numpy 1.x: Failed to initialize NumPy', UserWarning)\n")
    wheel = build_wheel(private.packages_dir, "pipe-algorithms-lib", "1.3.0", module_source=source)
    try:
        run = repo.pants("test", "--test-output=failed", BETA_BASE, env=CHECK_ALL)
    finally:
        wheel.unlink()
    assert run.returncode == 1, run.stderr
    assert "FAIL pipe-algorithms-lib 1.3.0 (the locked version installed)" in run.stderr, run.stderr
    # The bare injected entry is what the config declares; the report names the version it got.
    assert "  declared: `pipe-algorithms-lib` (injected, [peach].injected_requirements)" in run.stderr, run.stderr
    assert ("  import pipe_algorithms_lib:\n"
            "    warning: UserWarning: pipe-algorithms-lib 1.3.0 needs numpy 1.x: Failed to initialize NumPy "
            "(pipe_algorithms_lib/__init__.py:4)") in run.stderr, run.stderr
    assert "why this version: " in run.stderr and f"--peach-why-package=pipe-algorithms-lib {BETA_BASE}" in run.stderr
    assert "beta/base failed" in run.stderr


def test_one_codops_by_target_or_tag(repo: Checkout, built: Run) -> None:
    shutil.rmtree(repo.path / "dist")
    run = repo.pants("package", "//:peach#beta")
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in (repo.path / "dist/peach").iterdir()) == ["beta"]
    shutil.rmtree(repo.path / "dist")
    run = repo.pants("--tag=acme", "package", "::")
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in (repo.path / "dist/peach").iterdir()) == ["acme"]


def test_committed_lockfile_is_shipped_and_staleness_fails(repo: Checkout, built: Run) -> None:
    run = repo.pants("generate-lockfiles", "--resolve=peach/acme/legacy")
    assert run.returncode == 0, run.stderr
    committed = repo.path / "3rdparty/peach/locks/acme/legacy/uv.lock"
    try:
        assert PASSWORD not in committed.read_text()
        run = package(repo)
        assert run.returncode == 0, run.stderr
        assert repo.read("dist/peach/acme/legacy/uv.lock") == committed.read_text()
        with edited(repo, ENVS, "- pipe-algorithms-lib==1.0.0", "- pipe-algorithms-lib==1.0.0\n      - numpy-lite<2"):
            run = package(repo)
            assert run.returncode != 0
            assert ("The committed lockfile 3rdparty/peach/locks/acme/legacy/uv.lock of environment `acme/legacy` "
                    "is stale") in run.stderr
            assert re.search(r"^\s+~ numpy-lite 2\.0\.0 -> 1\.5\.0$", run.stderr, re.MULTILINE), run.stderr
            assert re.search(r"^\s+requirement \+ numpy-lite<2$", run.stderr, re.MULTILINE), run.stderr
            assert "pants generate-lockfiles --resolve=peach/acme/legacy" in run.stderr
            run = package(repo, PANTS_PEACH_STALE_LOCKFILE="warn")
            assert run.returncode == 0, run.stderr
            assert "is stale" in run.stderr
    finally:
        shutil.rmtree(repo.path / "3rdparty/peach/locks")


def test_a_committed_lockfile_outlives_newer_releases(repo: Checkout, built: Run, world: World, tmp_path: Path) -> None:
    """A newer release of a package nobody pinned does not make a committed lockfile fail: it keeps
    its versions, and the platform check compares it on those versions."""
    public_dir = tmp_path / "public"
    shutil.copytree(world.world.public_dir, public_dir)
    committed = repo.path / "3rdparty/peach/locks/acme/legacy/uv.lock"
    with PypiServer(public_dir) as public:
        env = {"PANTS_PEACH_PUBLIC_INDEX": public.url}
        try:
            run = repo.pants("generate-lockfiles", "--resolve=peach/acme/legacy", env=env)
            assert run.returncode == 0, run.stderr
            before = committed.read_text()
            assert locked_version(before, "httpx-lite") == f"0.27.0 from {public.url}"
            build_wheel(public_dir, "httpx-lite", "0.28.0", ("anyio-lite", "certifi-lite", "idna-lite", "sniffio-lite"))
            run = repo.pants("package", "//:peach#acme/legacy", env=env)
            assert run.returncode == 0, run.stderr
            assert repo.read("dist/peach/acme/legacy/uv.lock") == before
            # The premise: a fresh resolution takes the new release.
            run = repo.pants("generate-lockfiles", "--resolve=peach/acme/legacy", env=env)
            assert run.returncode == 0, run.stderr
            assert locked_version(committed.read_text(), "httpx-lite") == f"0.28.0 from {public.url}"
        finally:
            shutil.rmtree(repo.path / "3rdparty/peach/locks", ignore_errors=True)
    assert package(repo).returncode == 0  # dist/ as the other tests expect it (from cache)


def test_missing_credentials_name_environment_and_index(repo: Checkout, built: Run, private: PypiServer) -> None:
    with edited(repo, "example/beta/peach.yaml", "tqdm-lite==4.68.2", "tqdm-lite==4.68.3"):
        run = repo.pants("package", "//:peach#beta", env={"UV_INDEX_PRIVATE_PASSWORD": ""})
    assert run.returncode != 0
    assert private.url in run.stderr
    assert "pipe-algorithms-lib" in run.stderr and "UV_INDEX_PRIVATE_PASSWORD" in run.stderr
    assert "Traceback (most recent call last)" not in run.stderr


def test_two_checkouts_give_byte_identical_dist(repo: Checkout, built: Run, tmp_path: Path) -> None:
    other = Checkout(tmp_path / "elsewhere" / "deeper" / "peach", repo.env)
    shutil.copytree(repo.path, other.path, symlinks=True, ignore=shutil.ignore_patterns("dist", ".pants.d", ".pids"))
    try:
        first = package(repo)
        second = package(other, PANTS_LOCAL_CACHE="false")  # really run uv again, elsewhere
        assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
        assert uv_processes(second) == [*ACME_LOCKED, "beta/base"]
        # lock-changes.json compares with committed lockfiles only (none here), never with a checkout's
        # history: it is part of the identical bytes below.
        for codops in ("acme", "beta"):
            here = json.loads(repo.read(f"dist/peach/{codops}/lock-changes.json"))["environments"]
            assert here and all(c["baseline"] is None for c in here.values())
        # dist/peach/: the environments (dist/ also holds the plugin wheel, whose zip entries carry build times)
        assert _identical(filecmp.dircmp(repo.path / "dist/peach", other.path / "dist/peach"))
    finally:
        other.stop()


def _identical(cmp: filecmp.dircmp) -> bool:
    if cmp.left_only or cmp.right_only or cmp.diff_files or cmp.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(cmp.left, cmp.right, cmp.common_files, shallow=False)
    return not mismatch and not errors and all(_identical(sub) for sub in cmp.subdirs.values())


def test_export_writes_a_virtualenv_per_environment(repo: Checkout, built: Run) -> None:
    run = repo.pants("export", "--resolve=peach/acme/ml")
    assert run.returncode == 0, run.stderr
    venv = repo.path / "dist/export/peach-acme/ml/.venv"
    out = subprocess.run([str(venv / "bin/python"), "-c",
                          "import sys, torch_lite, pipe_algorithms_lib as p;"
                          "print(sys.version_info[:2] == (3, 11), torch_lite.__version__, p.__version__)"],
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "2.0.0", "1.1.0"]
    # uv sync ran with the isolation of every uv run: its empty system uv.toml is beside the project.
    assert (repo.path / "dist/export/peach-acme/ml/.peach/sysconfig/uv/uv.toml").read_bytes() == b""
    # A codops target exports each of its environments.
    run = repo.pants("export", "//:peach#beta")
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in (repo.path / "dist/export/peach-beta").iterdir()) == ["base", "codops-gateway"]
    assert (repo.path / "dist/export/peach-beta/base/.venv/bin/python").exists()
