"""Any Pants repository adopts peach with four settings: the plugin's wheel in `[GLOBAL].plugins`,
`"peach"` in `backend_packages`, `[peach].private_index`, and a `peach_config` target.

The wheel is built from this repo (`pants package pants-plugins:peach-pants`); the new repository
lies outside it, has no `pants-plugins/`, its own `pants.toml` and configs, and installs the wheel
from a local directory (`[python-repos].find_links`, as a company index would serve it).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from peach_e2e.repo import Checkout, Run, repo_root

CONFIG = """\
codops: acme
py_environments:
  base:
    dependencies: [six]
  ml:
    dependencies: [tqdm]
endpoints:
  rec:
    url: /rec
    py_env: ml
    components:
      main: {notebook: nb.ipynb, method: recommend}
"""
NOTEBOOK = json.dumps({"cells": [{"cell_type": "code", "source": "def recommend(x):\n    return x\n"}]})


def ok(run: Run) -> Run:
    assert run.returncode == 0, run.stderr
    assert "Traceback (most recent call last)" not in run.stderr
    return run


def test_a_new_repository_adopts_peach_from_its_wheel(example: Checkout, tmp_path: Path) -> None:
    ok(example.pants("package", "pants-plugins:peach-pants"))
    (wheel,) = (example.path / "dist").glob("peach_pants-*.whl")
    version = wheel.name.split("-")[1]
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    shutil.copy(wheel, wheels)

    repo = Checkout(tmp_path / "new-repo", {"PANTS_NAMED_CACHES_DIR": str(tmp_path / "named-caches")})
    (repo.path / "private-wheels").mkdir(parents=True)
    for built in (repo_root() / "example/private-index").glob("*.whl"):
        shutil.copy(built, repo.path / "private-wheels")
    shutil.copy(repo_root() / "pants", repo.path / "pants")
    repo.write({
        "pants.toml": (
            "[GLOBAL]\n"
            'pants_version = "2.17.1"\n'
            f'plugins = ["peach-pants=={version}"]\n'
            'backend_packages = ["peach"]\n'
            "\n"
            "[python-repos]\n"
            "# Where the plugin's wheel is published: here a local directory.\n"
            f'find_links = ["file://{wheels}"]\n'
            "\n"
            "[peach]\n"
            'private_index = "private-wheels"\n'
        ),
        "team/peach.conf/envs.yaml": CONFIG,
        "team/nb.ipynb": NOTEBOOK,
    })
    try:
        # `pants tailor` writes the peach_config target.
        ok(repo.pants("tailor", "::"))
        assert "peach_config(" in repo.read("team/BUILD")
        ok(repo.pants("package", "::"))
        for env in ("base", "codops-gateway", "ml"):
            assert (repo.path / f"dist/peach/acme/{env}/uv.lock").is_file()
        lock = repo.read("dist/peach/acme/ml/uv.lock")
        assert 'name = "tqdm"' in lock and 'name = "pipe-algorithms-lib"' in lock
        peek = json.loads(ok(repo.pants("peek", "team:peach#acme/ml")).stdout)
        assert peek[0]["requirements"][-1] == "protobuf==7.36.2"  # the framework stack the plugin ships
        assert set(ok(repo.pants("dependents", "team:peach#acme/ml")).stdout.split()) == {
            "team:peach", "team:peach#acme", "team:peach#acme/endpoints/rec"}
    finally:
        repo.stop()


def test_missing_settings_say_what_to_add(example: Checkout, tmp_path: Path) -> None:
    ok(example.pants("package", "pants-plugins:peach-pants"))
    (wheel,) = (example.path / "dist").glob("peach_pants-*.whl")
    repo = Checkout(tmp_path / "new-repo", {"PANTS_NAMED_CACHES_DIR": str(tmp_path / "named-caches")})
    shutil.copy(repo_root() / "pants", (tmp_path / "pants-launcher"))
    repo.path.mkdir()
    shutil.copy(tmp_path / "pants-launcher", repo.path / "pants")
    (tmp_path / "wheels").mkdir()
    shutil.copy(wheel, tmp_path / "wheels")
    repo.write({
        "pants.toml": (
            '[GLOBAL]\npants_version = "2.17.1"\n'
            f'plugins = ["peach-pants=={wheel.name.split("-")[1]}"]\nbackend_packages = ["peach"]\n'
            f'[python-repos]\nfind_links = ["file://{tmp_path / "wheels"}"]\n'
        ),
        "BUILD": "peach_config()\n",
        "team/peach.conf/envs.yaml": CONFIG,
        "team/nb.ipynb": NOTEBOOK,
    })
    try:
        run = repo.pants("list", "::")
        assert run.returncode != 0
        assert "write `peach_config(name=\"peach\")`" in run.stderr
        repo.write({"BUILD": 'peach_config(name="peach")\n'})
        run = repo.pants("package", "::")
        assert run.returncode != 0
        assert "[peach].private_index is not set" in run.stderr and "Set it in pants.toml, under `[peach]`" in run.stderr
        assert "Traceback (most recent call last)" not in run.stderr
        run = repo.pants("package", "::", env={"PANTS_PEACH_PRIVATE_INDEX": "wheels",
                                              "PANTS_PEACH_FRAMEWORK_STACK": "stack.txt"})
        assert run.returncode != 0
        assert "the framework stack file `stack.txt` does not exist" in run.stderr
    finally:
        repo.stop()
