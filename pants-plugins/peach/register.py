"""The peach Pants backend: wiring only."""
from __future__ import annotations

from pants.core.target_types import TargetGeneratorSourcesHelperTarget

from peach import generate, read_configs
from peach.environments import explain, index, lock, platforms, project
from peach.goals import export, importcheck, insight, lockfiles, migrate, package, tailor
from peach.target_types import (
    PeachAllTarget,
    PeachCodopsTarget,
    PeachConfigTarget,
    PeachEndpointTarget,
    PeachTaskTarget,
    PyEnvironmentTarget,
)
from peach.uv import credentials, tool


def target_types():
    return [
        PeachConfigTarget,
        PyEnvironmentTarget,
        PeachEndpointTarget,
        PeachTaskTarget,
        PeachCodopsTarget,
        PeachAllTarget,
        TargetGeneratorSourcesHelperTarget,
    ]


def rules():
    return [
        *read_configs.rules(),
        *generate.rules(),
        *tool.rules(),
        *credentials.rules(),
        *platforms.rules(),
        *index.rules(),
        *project.rules(),
        *lock.rules(),
        *explain.rules(),
        *package.rules(),
        *lockfiles.rules(),
        *tailor.rules(),
        *export.rules(),
        *insight.rules(),
        *migrate.rules(),
        *importcheck.rules(),
    ]
