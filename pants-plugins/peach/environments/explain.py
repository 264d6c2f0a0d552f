"""The rule behind a resolution failure's message: the environment's provenance, read from its
`py_environment` target only when uv found no solution (so no lock's cache key depends on it). The
message itself is built in `peach.environments.failure`."""
from __future__ import annotations

from dataclasses import dataclass

from pants.engine.rules import collect_rules, rule
from pants.engine.target import AllTargets
from pants.util.logging import LogLevel

from peach.environments.failure import resolution_failure
from peach.environments.project import EnvironmentRequest
from peach.target_types import ProvenanceField, environment_id, is_py_environment


@dataclass(frozen=True)
class ResolutionFailure:
    request: EnvironmentRequest
    stderr: str
    index: str  # the private index as shown (without credentials)
    platform: str = ""  # the image platform whose own resolution failed; empty for the lock itself


@dataclass(frozen=True)
class ResolutionFailureMessage:
    text: str


@rule(desc="Explain a failed peach resolution", level=LogLevel.DEBUG)
async def explain_resolution_failure(failure: ResolutionFailure, targets: AllTargets) -> ResolutionFailureMessage:
    request = failure.request
    provenance = next(
        (t[ProvenanceField].value for t in targets if is_py_environment(t) and environment_id(t) == request.id),
        (),
    )
    return ResolutionFailureMessage(resolution_failure(
        request.name, failure.stderr, provenance, request.config_files, failure.index, failure.platform))


def rules():
    return collect_rules()
