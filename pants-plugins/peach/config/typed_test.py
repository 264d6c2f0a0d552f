import copy
import json
import pickle

from peach.config.typed import Source, TextEnum


class Colour(TextEnum):
    RED = "red"


def test_a_text_enum_reads_as_its_value() -> None:
    assert (str(Colour.RED), f"{Colour.RED}", json.dumps({"c": Colour.RED})) == ("red", "red", '{"c": "red"}')
    assert Colour.RED == "red" and {"red": 1}[Colour.RED] == 1
    assert Colour("red") is Colour.RED


def test_a_source_reads_as_path_colon_line_and_keeps_its_parts() -> None:
    source = Source("zzebu/peach.conf/ml.yaml", 7)
    assert (source, source.path, source.line) == ("zzebu/peach.conf/ml.yaml:7", "zzebu/peach.conf/ml.yaml", 7)
    assert json.dumps([source]) == '["zzebu/peach.conf/ml.yaml:7"]'
    option = Source("[peach].injected_requirements")
    assert (option, option.path, option.line) == ("[peach].injected_requirements", "[peach].injected_requirements", 0)
    for copied in (copy.copy(source), copy.deepcopy(source), pickle.loads(pickle.dumps(source))):
        assert (copied, copied.path, copied.line) == (source, source.path, source.line)


def test_sources_sort_by_file_then_line_as_a_number() -> None:
    sources = [Source("b.yaml", 1), Source("a.yaml", 10), Source("a.yaml", 9), Source("[peach].x")]
    assert [s.sort_key for s in sorted(sources, key=lambda s: s.sort_key)] == [
        ("[peach].x", 0), ("a.yaml", 9), ("a.yaml", 10), ("b.yaml", 1)]

