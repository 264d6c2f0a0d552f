"""`pants package` end to end: real Pants, real uv, a real private index with basic auth and a local
public index that also serves a higher, hostile version of every private package.

The repo under test is a fresh clone of this one whose example is replaced by the configs below.
Each test module run uses new index ports, so its first build never hits an earlier run's cache.
"""
from __future__ import annotations

import filecmp
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Dict, Iterator, List

import pytest
import tomlkit

from peach_e2e.indexes import PypiServer, build_wheel, build_world
from peach_e2e.repo import Run, fresh_checkout, pants, user_env

USER, PASSWORD = "ci-user", "s3cret-Pa55word-never-logged"

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


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("indexes")
    built = build_world(root)
    with PypiServer(built.private_dir, auth=(USER, PASSWORD)) as private, PypiServer(built.public_dir) as public:
        yield {"world": built, "private": private, "public": public}


def write_repo(checkout: Path) -> None:
    shutil.rmtree(checkout / "example")
    files = {
        "example/acme/peach.conf/envs.yaml": ACME_ENVS,
        "example/acme/peach.conf/endpoints.yaml": ACME_ENDPOINTS,
        "example/acme/nb.ipynb": NOTEBOOK,
        "example/beta/peach.yaml": BETA,
        "3rdparty/peach/framework-stack.txt": STACK,
    }
    for rel, text in files.items():
        (checkout / rel).parent.mkdir(parents=True, exist_ok=True)
        (checkout / rel).write_text(text)


def options(world: dict, **extra: str) -> Dict[str, str]:
    env = {
        "PANTS_PEACH_PRIVATE_INDEX": world["private"].url,
        "PANTS_PEACH_PUBLIC_INDEX": world["public"].url,
        "PANTS_PEACH_INJECTED_REQUIREMENTS": "['pipe-algorithms-lib', 'implicit-lite==0.7.2']",
        "UV_INDEX_PRIVATE_USERNAME": USER,
        "UV_INDEX_PRIVATE_PASSWORD": PASSWORD,
    }
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def repo(world: dict, tmp_path_factory) -> Path:
    checkout = fresh_checkout(tmp_path_factory.mktemp("clone") / "peach")
    write_repo(checkout)
    return checkout


def locked(run: Run) -> List[str]:
    """The environments whose `uv lock` ran (cache hits run nothing and log nothing)."""
    return sorted(set(re.findall(r"Completed: uv lock (\S+)$", run.stderr, re.MULTILINE)))


def package(repo: Path, world: dict, *args: str, **env: str) -> Run:
    run = pants(repo, [*args, "package", "::"], env=options(world, **env))
    assert PASSWORD not in run.stdout + run.stderr
    return run


def read_lock(repo: Path, env: str) -> str:
    return (repo / "dist/peach" / env / "uv.lock").read_text()


def locked_version(lock: str, name: str) -> str:
    match = re.search(rf'\[\[package\]\]\nname = "{re.escape(name)}"\nversion = "([^"]+)"\nsource = {{ registry = "([^"]+)"', lock)
    assert match, f"{name} is not in the lock"
    return f"{match.group(1)} from {match.group(2)}"


def test_01_cold_build_writes_every_project(repo: Path, world: dict) -> None:
    run = package(repo, world)
    assert run.returncode == 0, run.stderr
    assert locked(run) == [*(f"acme/{e}" for e in ACME_ENV_NAMES), "beta/base", "beta/codops-gateway"]
    private_url = world["private"].url
    for env in ("acme/base", "acme/ml", "acme/codops-gateway", "beta/base"):
        lock = read_lock(repo, env)
        # The private package comes from the private index, at its latest release, even though the
        # public index serves 99.0.0.
        assert locked_version(lock, "pipe-algorithms-lib") == f"1.1.0 from {private_url}"
    assert locked_version(read_lock(repo, "acme/legacy"), "pipe-algorithms-lib") == f"1.0.0 from {private_url}"
    ml = read_lock(repo, "acme/ml")
    assert locked_version(ml, "uvicorn-lite") == f"0.30.0 from {world['public'].url}"
    assert 'name = "httptools-lite"' in ml  # the [standard] extra inherited from base
    assert locked_version(ml, "torch-lite") == f"2.0.0 from {world['public'].url}"


def test_02_pyproject_and_environments_json(repo: Path, world: dict) -> None:
    pyproject = (repo / "dist/peach/acme/ml/pyproject.toml").read_text()
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
    summary = json.loads((repo / "dist/peach/acme/environments.json").read_text())
    assert sorted(summary["environments"]) == list(ACME_ENV_NAMES)
    assert summary["environments"]["ml"]["project_dir"] == "peach/acme/ml"
    assert summary["endpoints"] == [{
        "component": "main", "endpoint": "recommend", "environment": "ml", "full_notebook": False,
        "method": "recommend", "notebook": "example/acme/nb.ipynb", "project_dir": "peach/acme/ml",
        "url": "/recommend",
    }]
    assert [t["environment"] for t in summary["tasks"]] == ["base"]


def test_03_no_secret_in_dist(repo: Path) -> None:
    for path in (repo / "dist").rglob("*"):
        if path.is_file():
            assert PASSWORD not in path.read_text(errors="replace"), path


def test_04_uv_sync_locked_installs_the_locked_versions(repo: Path, world: dict, tmp_path: Path) -> None:
    from uv import find_uv_bin

    project = repo / "dist/peach/acme/ml"
    venv = tmp_path / "venv"
    proc = subprocess.run(
        [find_uv_bin(), "sync", "--locked", "--no-install-project", "--python", shutil.which("python3.11") or "python3.11"],
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


def test_05_noop_rebuild_runs_no_uv(repo: Path, world: dict) -> None:
    run = package(repo, world)
    assert run.returncode == 0, run.stderr
    assert locked(run) == []


def test_06_editing_one_environment_relocks_only_it(repo: Path, world: dict) -> None:
    envs = repo / "example/acme/peach.conf/envs.yaml"
    envs.write_text(envs.read_text().replace("- transformers-lite", "- transformers-lite\n      - scipy-lite"))
    run = package(repo, world)
    assert run.returncode == 0, run.stderr
    assert locked(run) == ["acme/ml"]


def test_07_editing_base_relocks_that_codops_only(repo: Path, world: dict) -> None:
    envs = repo / "example/acme/peach.conf/envs.yaml"
    envs.write_text(envs.read_text().replace("- orjson-lite==3.10.0", "- orjson-lite==3.9.0"))
    run = package(repo, world)
    assert run.returncode == 0, run.stderr
    assert locked(run) == [f"acme/{e}" for e in ACME_ENV_NAMES]


def test_08_new_private_release_relocks_the_environments_that_inherit_it(repo: Path, world: dict) -> None:
    build_wheel(world["world"].private_dir, "pipe-algorithms-lib", "1.2.0", ("numpy-lite>=1",))
    run = package(repo, world)
    assert run.returncode == 0, run.stderr
    # `legacy` pins 1.0.0 itself, so it does not change.
    assert locked(run) == ["acme/base", "acme/codops-gateway", "acme/ml", "beta/base", "beta/codops-gateway"]
    assert locked_version(read_lock(repo, "acme/ml"), "pipe-algorithms-lib") == f"1.2.0 from {world['private'].url}"


def test_09_one_codops_by_target_or_tag(repo: Path, world: dict) -> None:
    shutil.rmtree(repo / "dist")
    run = pants(repo, ["package", "//:peach#beta"], env=options(world))
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in (repo / "dist/peach").iterdir()) == ["beta"]
    shutil.rmtree(repo / "dist")
    run = pants(repo, ["--tag=acme", "package", "::"], env=options(world))
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in (repo / "dist/peach").iterdir()) == ["acme"]


def test_10_committed_lockfile_is_shipped_and_staleness_fails(repo: Path, world: dict) -> None:
    run = pants(repo, ["generate-lockfiles", "--resolve=peach/acme/legacy"], env=options(world))
    assert run.returncode == 0, run.stderr
    committed = repo / "3rdparty/peach/locks/acme/legacy/uv.lock"
    assert PASSWORD not in committed.read_text()
    run = package(repo, world)
    assert run.returncode == 0, run.stderr
    assert (repo / "dist/peach/acme/legacy/uv.lock").read_bytes() == committed.read_bytes()
    envs = repo / "example/acme/peach.conf/envs.yaml"
    envs.write_text(envs.read_text().replace("- pipe-algorithms-lib==1.0.0", "- pipe-algorithms-lib==1.0.0\n      - numpy-lite<2"))
    run = package(repo, world)
    assert run.returncode != 0
    assert ("The committed lockfile 3rdparty/peach/locks/acme/legacy/uv.lock of environment `acme/legacy` is stale"
            in run.stderr)
    assert "pants generate-lockfiles --resolve=peach/acme/legacy" in run.stderr
    run = package(repo, world, PANTS_PEACH_STALE_LOCKFILE="warn")
    assert run.returncode == 0, run.stderr
    assert "is stale" in run.stderr
    shutil.rmtree(repo / "3rdparty/peach/locks")


def test_11_missing_credentials_name_environment_and_index(repo: Path, world: dict) -> None:
    env = options(world)
    env.pop("UV_INDEX_PRIVATE_PASSWORD")
    envs = repo / "example/beta/peach.yaml"
    envs.write_text(envs.read_text().replace("tqdm-lite==4.68.2", "tqdm-lite==4.68.3"))
    run = pants(repo, ["package", "//:peach#beta"], env=env)
    assert run.returncode != 0
    assert world["private"].url in run.stderr
    assert "pipe-algorithms-lib" in run.stderr
    assert "Traceback (most recent call last)" not in run.stderr


def test_12_two_checkouts_give_byte_identical_dist(repo: Path, world: dict, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere" / "deeper" / "peach"
    shutil.copytree(repo, other, symlinks=True, ignore=shutil.ignore_patterns("dist", ".pants.d", ".pids"))
    first = package(repo, world)
    second = package(other, world, PANTS_LOCAL_CACHE="false")  # really run uv again, elsewhere
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert len(locked(second)) == 6
    compare = filecmp.dircmp(repo / "dist", other / "dist")
    assert _identical(compare)


def _identical(cmp: filecmp.dircmp) -> bool:
    if cmp.left_only or cmp.right_only or cmp.diff_files or cmp.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(cmp.left, cmp.right, cmp.common_files, shallow=False)
    return not mismatch and not errors and all(_identical(sub) for sub in cmp.subdirs.values())
