"""The one spelling of an environment's names: its resolve, target name, project, export and
lockfile paths, and those of a codops.

No Pants imports. `peach/<codops>/<env>` and its relatives are composed here and nowhere else.
"""
from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Optional

from peach.config.names import canonical_name

# `dist/peach/`: every codops' directory, as `package` writes it (relative to the dist dir).
PROJECTS_DIR = "peach"
# Every resolve name of peach starts with it: `peach/<codops>/<env>`.
RESOLVE_PREFIX = "peach/"
LOCKFILE_NAME = "uv.lock"


@dataclass(frozen=True, order=True)
class EnvironmentId:
    """One environment of one codops: the pair every name of the environment is made from."""

    codops: str
    environment: str

    @property
    def name(self) -> str:
        """`<codops>/<env>`: how messages, budgets and lock changes name it, and its generated target's name."""
        return f"{self.codops}/{self.environment}"

    @property
    def resolve(self) -> str:
        """`peach/<codops>/<env>`: its resolve for `generate-lockfiles` and `export`."""
        return f"{RESOLVE_PREFIX}{self.name}"

    @property
    def project_dir(self) -> str:
        """`peach/<codops>/<env>`: where `package` writes its project, relative to the dist dir."""
        return f"{codops_project_dir(self.codops)}/{self.environment}"

    @property
    def export_dir(self) -> str:
        """`peach-<codops>/<env>`: relative to `dist/export/`, as deep as its project is below `dist/`."""
        return f"{codops_export_dir(self.codops)}/{self.environment}"

    @property
    def project_name(self) -> str:
        """`peach-<codops>-<env>`, canonical: its uv project's name, valid and stable (uv writes it into `uv.lock`)."""
        return re.sub(r"[^a-z0-9]+$", "", canonical_name(f"peach-{self.codops}-{self.environment}"))

    def lockfile_path(self, lockfile_dir: str) -> str:
        """Its committed lockfile below `[peach].lockfile_dir`."""
        return posixpath.join(lockfile_dir, self.codops, self.environment, LOCKFILE_NAME)

    @classmethod
    def from_resolve(cls, resolve: str) -> Optional["EnvironmentId"]:
        """The environment a resolve name (`peach/<codops>/<env>`) names; None for any other name."""
        parts = resolve.split("/")
        if len(parts) == 3 and resolve.startswith(RESOLVE_PREFIX) and parts[1] and parts[2]:
            return cls(parts[1], parts[2])
        return None


def codops_resolve_prefix(codops: str) -> str:
    """`peach/<codops>/`: the `--resolve` that stands for every environment of a codops."""
    return f"{RESOLVE_PREFIX}{codops}/"


def codops_of_prefix(name: str) -> str:
    """The codops a `peach/<codops>/` names (every environment of it), else ``."""
    parts = name.split("/")
    return parts[1] if len(parts) == 3 and name.startswith(RESOLVE_PREFIX) and parts[1] and not parts[2] else ""


def codops_project_dir(codops: str) -> str:
    """`peach/<codops>`: a codops' directory below the dist dir (its projects, `environments.json`)."""
    return f"{PROJECTS_DIR}/{codops}"


def codops_export_dir(codops: str) -> str:
    """`peach-<codops>`: a codops' directory below `dist/export/`."""
    return f"peach-{codops}"


def selects(selector: str, resolve: str) -> bool:
    """Whether `selector` (a resolve name, or a prefix ending in `/`: `peach/zzebu/`, `peach/`)
    selects the resolve `resolve`."""
    return resolve == selector or (selector.endswith("/") and resolve.startswith(selector))


def endpoint_name(codops: str, endpoint: str) -> str:
    """The generated target name of an endpoint: `<codops>/endpoints/<name>`."""
    return f"{codops}/endpoints/{endpoint}"


def task_name(codops: str, task: str) -> str:
    """The generated target name of a task: `<codops>/tasks/<name>`."""
    return f"{codops}/tasks/{task}"
