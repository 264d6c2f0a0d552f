"""Dependency confusion, a hostile caller environment, failing indexes and secrets, end to end.

The public index serves 99.0.0 of every private package. No build may lock a private package from
anywhere but the private index; a failing index fails loudly, names the environment and the index
(without credentials), and changes nothing in dist/.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Dict, Iterator

import pytest

from peach_e2e.indexes import CannedServer, PypiServer, build_world, free_port
from peach_e2e.repo import Run, fresh_checkout, pants

USER, PASSWORD = "ci-user", "hostile-test-Pa55word-4711"

CONFIG = """\
codops: acme
py_environments:
  base:
    dependencies: [orjson-lite==3.10.0]
  consumer:
    dependencies: [pipe-consumer]
  impossible:
    dependencies: [numpy-lite>=99]
"""
STACK = "pydantic-lite==2.5.0\n"


@pytest.fixture(scope="module")
def servers(tmp_path_factory) -> Iterator[dict]:
    world = build_world(tmp_path_factory.mktemp("indexes"))
    with PypiServer(world.private_dir, auth=(USER, PASSWORD)) as private, PypiServer(world.public_dir) as public:
        yield {"private": private, "public": public}


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    checkout = fresh_checkout(tmp_path_factory.mktemp("clone") / "peach")
    shutil.rmtree(checkout / "example")
    (checkout / "example/acme").mkdir(parents=True)
    (checkout / "example/acme/peach.yaml").write_text(CONFIG)
    (checkout / "3rdparty/peach/framework-stack.txt").write_text(STACK)
    return checkout


def options(servers: dict, **extra: str) -> Dict[str, str]:
    env = {
        "PANTS_PEACH_PRIVATE_INDEX": servers["private"].url,
        "PANTS_PEACH_PUBLIC_INDEX": servers["public"].url,
        "PANTS_PEACH_INJECTED_REQUIREMENTS": "['pipe-algorithms-lib']",
        "PANTS_PEACH_PRIVATE_PACKAGES": "['pipe-algorithms-lib', 'pipe-consumer']",
        "PANTS_PEACH_INDEX_TIMEOUT": "3",
        "UV_INDEX_PRIVATE_USERNAME": USER,
        "UV_INDEX_PRIVATE_PASSWORD": PASSWORD,
    }
    env.update(extra)
    return env


def package(repo: Path, env: Dict[str, str], target: str) -> Run:
    run = pants(repo, ["package", target], env=env)
    assert PASSWORD not in run.stdout + run.stderr, "the index password leaked into the output"
    assert "Traceback (most recent call last)" not in run.stderr
    return run


def source_of(lock: str, name: str) -> str:
    match = re.search(rf'name = "{re.escape(name)}"\nversion = "([^"]+)"\nsource = {{ registry = "([^"]+)"', lock)
    assert match, f"{name} is not in the lock"
    return f"{match.group(1)} from {match.group(2)}"


def dist_snapshot(repo: Path) -> Dict[str, bytes]:
    root = repo / "dist"
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()} if root.exists() else {}


def test_transitive_private_package_under_a_hostile_environment(repo: Path, servers: dict, tmp_path: Path) -> None:
    # The caller's environment and user uv config try every way uv has to bring the public index in.
    user_config = tmp_path / "xdg" / "uv" / "uv.toml"
    user_config.parent.mkdir(parents=True)
    user_config.write_text(
        'index-strategy = "unsafe-best-match"\n'
        f'[[index]]\nname = "evil"\nurl = "{servers["public"].url}"\n'
    )
    hostile = options(
        servers,
        PANTS_PEACH_INJECTED_REQUIREMENTS="[]",  # pipe-algorithms-lib arrives only through pipe-consumer
        UV_INDEX_STRATEGY="unsafe-best-match",
        UV_NO_SOURCES="1",
        UV_INDEX=f"evil={servers['public'].url}",
        UV_EXTRA_INDEX_URL=servers["public"].url,
        UV_DEFAULT_INDEX=servers["public"].url,
        XDG_CONFIG_HOME=str(tmp_path / "xdg"),
    )
    run = package(repo, hostile, "//:peach#acme/consumer")
    assert run.returncode == 0, run.stderr
    lock = (repo / "dist/peach/acme/consumer/uv.lock").read_text()
    private = servers["private"].url
    assert source_of(lock, "pipe-consumer") == f"1.0.0 from {private}"
    assert source_of(lock, "pipe-algorithms-lib") == f"1.1.0 from {private}"
    pyproject = (repo / "dist/peach/acme/consumer/pyproject.toml").read_text()
    assert 'override-dependencies = ["pipe-algorithms-lib"]' in pyproject


def test_audit_fails_a_private_package_the_sources_cannot_reach(repo: Path, servers: dict) -> None:
    # With only a pattern, peach cannot know to pin the transitive pipe-algorithms-lib, and uv takes
    # the public 99.0.0: the audit of the new uv.lock must fail the build, and nothing is written.
    before = dist_snapshot(repo)
    env = options(servers, PANTS_PEACH_INJECTED_REQUIREMENTS="[]", PANTS_PEACH_PRIVATE_PACKAGES="['pipe-*']",
                  PANTS_LOCAL_CACHE="false")
    run = package(repo, env, "//:peach#acme/consumer")
    assert run.returncode != 0
    assert (f"environment `acme/consumer`: DEPENDENCY CONFUSION: pipe-algorithms-lib==99.0.0 comes from "
            f"{servers['public'].url}, not the private index {servers['private'].url}. The lockfile was not written."
            ) in run.stderr
    assert dist_snapshot(repo) == before


def test_unsatisfiable_requirement(repo: Path, servers: dict) -> None:
    before = dist_snapshot(repo)
    run = package(repo, options(servers), "//:peach#acme/impossible")
    assert run.returncode != 0
    assert f"uv could not lock environment `acme/impossible` (private index: {servers['private'].url})" in run.stderr
    assert "numpy-lite" in run.stderr
    assert dist_snapshot(repo) == before


def failing(repo: Path, servers: dict, index_url: str, **extra: str) -> str:
    before = dist_snapshot(repo)
    run = package(repo, options(servers, PANTS_PEACH_PRIVATE_INDEX=index_url, **extra), "//:peach#acme/base")
    assert run.returncode != 0
    assert dist_snapshot(repo) == before
    assert "codops `acme`, environment `base`: cannot pin pipe-algorithms-lib to its latest release" in run.stderr
    return run.stderr


def test_private_index_down(repo: Path, servers: dict) -> None:
    url = f"http://127.0.0.1:{free_port()}/simple"
    assert f"cannot reach the private index {url}" in failing(repo, servers, url)


def test_private_index_wrong_password(repo: Path, servers: dict) -> None:
    stderr = failing(repo, servers, servers["private"].url, UV_INDEX_PRIVATE_PASSWORD="wrong-" + PASSWORD)
    assert "403" in stderr and servers["private"].url in stderr


def test_private_index_without_credentials(repo: Path, servers: dict) -> None:
    stderr = failing(repo, servers, servers["private"].url, UV_INDEX_PRIVATE_PASSWORD="", UV_INDEX_PRIVATE_USERNAME="")
    assert "401" in stderr and servers["private"].url in stderr


@pytest.mark.parametrize("kind", ["500", "slow", "malformed"])
def test_private_index_misbehaving(repo: Path, servers: dict, kind: str) -> None:
    server = {"500": lambda: CannedServer.status(500), "slow": lambda: CannedServer.slow(10.0),
              "malformed": lambda: CannedServer.malformed("json")}[kind]()
    with server:
        url = server.url
        stderr = failing(repo, servers, url)
    assert url in stderr
    expected = {"500": "500", "slow": "timed out", "malformed": "malformed"}[kind]
    assert expected in stderr.lower()


def test_no_secret_anywhere_after_all_that(repo: Path, servers: dict) -> None:
    run = package(repo, options(servers), "//:peach#acme/base")
    assert run.returncode == 0, run.stderr
    for path in [*(repo / "dist").rglob("*"), *(repo / ".pants.d").rglob("*.log")]:
        if path.is_file():
            assert PASSWORD not in path.read_text(errors="replace"), path
    summary = repo / "dist/peach/acme/base/pyproject.toml"
    assert USER not in summary.read_text()
    assert json.dumps(PASSWORD) not in (repo / "dist/peach/acme/base/uv.lock").read_text()
