from pants.core.goals.tailor import (
    AllOwnedSources,
    PutativeTargets,
    rename_conflicting_targets,
)
from pants.engine.fs import PathGlobs, Paths
from pants.engine.target import AllUnexpandedTargets
from pants.testutil.rule_runner import MockGet, run_rule_with_mocks

from peach.goals.tailor import PutativePeachConfigRequest, find_putative_peach_configs


def putative(files, owned=()) -> PutativeTargets:
    return run_rule_with_mocks(
        find_putative_peach_configs,
        rule_args=[PutativePeachConfigRequest(("",)), AllOwnedSources(owned)],
        mock_gets=[MockGet(output_type=Paths, input_types=(PathGlobs,), mock=lambda _: Paths(tuple(files), ()))],
    )


def test_a_root_config_gets_the_target_named_peach_not_root() -> None:
    found = putative(["peach.conf/envs.yaml", "svc/notes.yaml"])
    # Pants names an unnamed putative target of the root BUILD file `root`; peach's keeps `peach`.
    (named,) = run_rule_with_mocks(rename_conflicting_targets, rule_args=[found, AllUnexpandedTargets([])]) \
        .putative_targets
    assert (named.path, named.name) == ("", "peach")
    assert named.generate_build_file_stanza("    ") == 'peach_config(\n    name="peach",\n)\n'


def test_a_config_directory_gets_its_target_beside_it() -> None:
    (target,) = putative(["team/peach.conf/a.yaml", "team/peach.conf/b.yml", "team/sub/peach.yaml"])
    assert (target.path, target.name, target.triggering_sources) == (
        "team", "peach", ("peach.conf/a.yaml", "peach.conf/b.yml", "sub/peach.yaml"))


def test_owned_configs_get_no_target() -> None:
    assert not putative(["peach.conf/envs.yaml"], owned=["peach.conf/envs.yaml"])

