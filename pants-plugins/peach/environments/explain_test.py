from pants.engine.addresses import Address
from pants.engine.target import AllTargets
from pants.testutil.rule_runner import run_rule_with_mocks

from peach.config.requirements import Provenance
from peach.environments.explain import ResolutionFailure, explain_resolution_failure
from peach.environments.failure_test import NUMPY
from peach.environments.project import EnvironmentRequest
from peach.target_types import PeachCodopsTarget, PyEnvironmentTarget


def environment(codops: str, name: str, numpy_source: str) -> PyEnvironmentTarget:
    return PyEnvironmentTarget(
        {"codops": codops, "environment": name, "requirements": ["numpy==0.0.1"],
         "provenance": [Provenance("numpy==0.0.1", "numpy", "environment", numpy_source)]},
        Address("", target_name="peach", generated_name=f"{codops}/{name}"),
    )


def test_the_message_reads_the_provenance_of_the_failed_environment_only() -> None:
    targets = AllTargets([
        PeachCodopsTarget({"codops": "acme"}, Address("", target_name="peach", generated_name="acme")),
        environment("other", "ml", "other/peach.conf/envs.yaml:3"),  # the same environment name, another codops
        environment("acme", "cv", "acme/peach.conf/envs.yaml:5"),  # the same codops, another environment
        environment("acme", "ml", "acme/peach.conf/envs.yaml:7"),
    ])
    failure = ResolutionFailure(EnvironmentRequest("acme", "ml", ("numpy==0.0.1",), ()), NUMPY, "wheels")
    text = run_rule_with_mocks(explain_resolution_failure, rule_args=[failure, targets]).text
    assert "`numpy==0.0.1` (environment, acme/peach.conf/envs.yaml:7)" in text
    assert "envs.yaml:3" not in text and "envs.yaml:5" not in text
