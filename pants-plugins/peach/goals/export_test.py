from peach.goals.export import codops_prefix, codops_result, export_dir


def test_a_codops_prefix_names_one_codops() -> None:
    assert codops_prefix("peach/zzebu/") == "zzebu"
    assert [codops_prefix(n) for n in ("peach/zzebu/ml", "peach/", "peach//", "pytest", "other/zzebu/")] == [""] * 5


def test_a_codops_result_is_the_directory_of_its_environments() -> None:
    result = codops_result("peach/zzebu/")
    assert (result.reldir, result.resolve) == ("peach-zzebu", "peach/zzebu/")
    assert export_dir("zzebu", "ml").startswith(result.reldir + "/")
