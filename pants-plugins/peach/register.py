"""The peach Pants backend: wiring only."""
from __future__ import annotations

from pants.core.target_types import TargetGeneratorSourcesHelperTarget

from peach import generate, lockfiles, package
from peach.target_types import (
    PeachCodopsTarget,
    PeachConfigTarget,
    PeachEndpointTarget,
    PeachTaskTarget,
    PyEnvironmentTarget,
)


def target_types():
    return [
        PeachConfigTarget,
        PyEnvironmentTarget,
        PeachEndpointTarget,
        PeachTaskTarget,
        PeachCodopsTarget,
        TargetGeneratorSourcesHelperTarget,
    ]


def rules():
    return [*generate.rules(), *package.rules(), *lockfiles.rules()]
