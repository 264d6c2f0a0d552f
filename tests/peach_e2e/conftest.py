"""Setup shared by the end-to-end tests (they run in one pytest process: `batch_compatibility_tag`).

- `world`: one index world (a private index behind basic auth, a public index that also serves a
  higher, hostile release of every private package), served by real pypiservers on 127.0.0.1;
- `example`: one fresh clone of this repo, with its example codops, and its own pantsd.

Every checkout's pantsd and every server is stopped when its fixture ends.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import pytest

from peach_e2e.indexes import IndexWorld, PypiServer, build_world
from peach_e2e.repo import Checkout

USER, PASSWORD = "ci-user", "s3cret-Pa55word-never-logged"


@dataclass(frozen=True)
class World:
    world: IndexWorld
    private: PypiServer
    public: PypiServer


@pytest.fixture(scope="session")
def world(tmp_path_factory) -> Iterator[World]:
    built = build_world(tmp_path_factory.mktemp("indexes"))
    with PypiServer(built.private_dir, auth=(USER, PASSWORD)) as private, PypiServer(built.public_dir) as public:
        yield World(built, private, public)


@pytest.fixture(scope="session")
def example(tmp_path_factory) -> Iterator[Checkout]:
    checkout = Checkout.clone(tmp_path_factory.mktemp("example") / "peach")
    try:
        yield checkout
    finally:
        checkout.stop()
