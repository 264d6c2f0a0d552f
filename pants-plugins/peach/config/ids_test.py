from peach.config.ids import (
    EnvironmentId,
    codops_export_dir,
    codops_of_prefix,
    codops_project_dir,
    codops_resolve_prefix,
    endpoint_name,
    selects,
    task_name,
)

ML = EnvironmentId("zzebu", "ml")


def test_every_name_of_an_environment() -> None:
    assert ML.name == "zzebu/ml"
    assert ML.resolve == "peach/zzebu/ml"
    assert ML.project_dir == "peach/zzebu/ml"
    assert ML.export_dir == "peach-zzebu/ml"
    assert ML.lockfile_path("3rdparty/peach") == "3rdparty/peach/zzebu/ml/uv.lock"
    assert ML.lockfile_path("3rdparty/peach/") == "3rdparty/peach/zzebu/ml/uv.lock"


def test_the_project_name_is_canonical_and_ends_with_a_letter_or_digit() -> None:
    assert ML.project_name == "peach-zzebu-ml"
    assert EnvironmentId("zzebu", "ML.v2").project_name == "peach-zzebu-ml-v2"
    assert EnvironmentId("zz_", "gpu-").project_name == "peach-zz-gpu"


def test_a_resolve_name_parses_back_into_its_id() -> None:
    assert EnvironmentId.from_resolve(ML.resolve) == ML
    assert EnvironmentId.from_resolve("peach/zzebu/codops-gateway") == EnvironmentId("zzebu", "codops-gateway")
    for other in ("peach/zzebu/", "peach/", "peach//ml", "python-default", "other/zzebu/ml", "peach/a/b/c"):
        assert EnvironmentId.from_resolve(other) is None, other


def test_a_codops_prefix_names_one_codops() -> None:
    assert codops_resolve_prefix("zzebu") == "peach/zzebu/"
    assert codops_of_prefix(codops_resolve_prefix("zzebu")) == "zzebu"
    assert [codops_of_prefix(n) for n in ("peach/zzebu/ml", "peach/", "peach//", "pytest", "other/zzebu/")] == [""] * 5


def test_a_codops_directories_hold_its_environments_directories() -> None:
    assert codops_project_dir("zzebu") == "peach/zzebu"
    assert ML.project_dir.startswith(codops_project_dir("zzebu") + "/")
    assert codops_export_dir("zzebu") == "peach-zzebu"
    assert ML.export_dir.startswith(codops_export_dir("zzebu") + "/")


def test_a_selector_is_a_resolve_or_a_prefix() -> None:
    assert selects("peach/zzebu/ml", ML.resolve)
    assert selects("peach/zzebu/", ML.resolve)
    assert selects("peach/", ML.resolve)
    assert not selects("peach/zzebu/m", ML.resolve)  # a name, not a prefix, unless it ends with `/`
    assert not selects("peach/debr/", ML.resolve)
    assert not selects("peach/zzebu/ml/", ML.resolve)


def test_ids_sort_by_codops_then_environment() -> None:
    ids = [EnvironmentId("zzebu", "base"), EnvironmentId("debr", "ml"), EnvironmentId("debr", "base")]
    assert [i.name for i in sorted(ids)] == ["debr/base", "debr/ml", "zzebu/base"]


def test_generated_target_names() -> None:
    assert endpoint_name("zzebu", "recommend") == "zzebu/endpoints/recommend"
    assert task_name("zzebu", "train") == "zzebu/tasks/train"
