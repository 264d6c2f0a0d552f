from peach.config.ids import EnvironmentId
from peach.goals.export import codops_result


def test_a_codops_result_is_the_directory_of_its_environments() -> None:
    result = codops_result("peach/zzebu/")
    assert (result.reldir, result.resolve) == ("peach-zzebu", "peach/zzebu/")
    assert EnvironmentId("zzebu", "ml").export_dir.startswith(result.reldir + "/")
