from __future__ import annotations

import pytest

from peach.config.yamlload import (
    MAX_DEPTH,
    YamlLoadError,
    YMap,
    YScalar,
    YSeq,
    load_yaml,
)


def load(text: str):
    return load_yaml("f.yaml", text.encode())


def error(content: bytes) -> str:
    with pytest.raises(YamlLoadError) as e:
        load_yaml("f.yaml", content)
    return e.value.problem.render()


def test_lines_and_columns_are_kept() -> None:
    root = load("a: 1\nb:\n  - x\n  - y\n")
    assert isinstance(root, YMap)
    b = root.get("b")
    assert isinstance(b, YSeq) and (b.line, b.column) == (3, 3)
    assert [(i.value, i.line) for i in b.items] == [("x", 3), ("y", 4)]
    assert root.key_node("b") == YScalar("b", 2, 1)


def test_empty_document_is_none() -> None:
    assert load("") is None
    assert load("# only a comment\n") is None


def test_scalar_types_follow_yaml() -> None:
    root = load("s: x\ni: 3\nf: 2.0\nb: true\nn: null\n")
    assert [v.value for _, v in root.items()] == ["x", 3, 2.0, True, None]


def test_duplicate_key_names_both_lines() -> None:
    assert error(b"a: 1\nb: 2\na: 3\n") == (
        "f.yaml:3:1: duplicate key `a` in one mapping (first written at line 1); YAML would silently keep only "
        "the last one\n  fix: write the key once: merge the two entries or delete one"
    )


def test_duplicate_key_in_nested_flow_mapping() -> None:
    assert error(b"a:\n  b: {x: 1, x: 2}\n").startswith("f.yaml:2:13: duplicate key `x`")


def test_merge_keys_work_and_own_keys_override() -> None:
    root = load("common: &c {url: /a, py_env: ml}\nep:\n  <<: *c\n  url: /b\n")
    ep = root.get("ep")
    assert {k.value: v.value for k, v in ep.items()} == {"url": "/b", "py_env": "ml"}


def test_merge_of_a_list_of_mappings_first_wins() -> None:
    root = load("a: &a {x: 1}\nb: &b {x: 2, y: 2}\nc:\n  <<: [*a, *b]\n")
    assert {k.value: v.value for k, v in root.get("c").items()} == {"x": 1, "y": 2}


def test_merge_of_a_scalar_is_an_error() -> None:
    assert error(b"a: &a 1\nb:\n  <<: *a\n").startswith("f.yaml:1:4: a merge key (`<<`) takes a mapping")


def test_tab_indentation() -> None:
    assert error(b"a:\n\tb: 1\n") == (
        "f.yaml:2:1: invalid YAML: while scanning for the next token; found character '\\t' that cannot start "
        "any token\n  fix: YAML does not allow tab characters for indentation: indent with spaces"
    )


def test_not_utf8() -> None:
    assert error(b"codops: zzebu\nname: caf\xe9\n") == (
        "f.yaml:2:10: the file is not valid UTF-8 (byte 0xe9 cannot be decoded)\n  fix: save the file as UTF-8"
    )


def test_utf8_bom_is_accepted() -> None:
    assert load_yaml("f.yaml", "\ufeffcodops: zzebu\n".encode()).get("codops").value == "zzebu"


def test_two_documents() -> None:
    assert error(b"a: 1\n---\nb: 2\n") == (
        "f.yaml:2:1: invalid YAML: expected a single document in the stream; but found another document "
        "(the construct started at line 1)\n"
        "  fix: a peach config holds one YAML document: remove the `---` separator or split the file"
    )


def test_alias_bomb_is_stopped() -> None:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    text = error("\n".join(lines).encode())
    assert "expands to more than 200000 values (aliases that expand exponentially, an 'alias bomb'?)" in text


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    depth = MAX_DEPTH + 5
    text = error(("[" * depth + "]" * depth).encode())
    assert "nested too deeply to be a peach config (more than 64 levels)" in text


def test_very_deep_nesting_beyond_the_parser() -> None:
    text = error(("[" * 5000 + "]" * 5000).encode())
    assert "nested too deeply" in text


def test_recursive_alias_is_an_error() -> None:
    text = error(b"a: &a [*a]\n")
    assert "nested too deeply" in text or "found undefined alias" in text


def test_complex_key_is_an_error() -> None:
    assert error(b"? [a, b]\n: 1\n").startswith("f.yaml:1:3: a mapping key must be a plain value, not a list")


def test_the_fast_and_the_pure_loader_read_every_config_alike() -> None:
    """libyaml composes the configs; where it succeeds, the tree equals the pure loader's, lines and all."""
    import glob
    import os

    from peach.config import yamlload

    assert yamlload._FAST_LOADER is not None  # Pants ships PyYAML with libyaml
    root = os.path.dirname(os.path.abspath(__file__))
    samples = [
        b"codops: zzebu\npy_environments:\n  base: {dependencies: [orjson==3.10.0, 'uvicorn[standard]']}\n"
        b"endpoints:\n  r: &r\n    url: /r\n    components: {main: {notebook: a.ipynb, method: f}}\n"
        b"  s:\n    <<: *r\n    url: /s\n# a comment\ntasks:\n  t: {notebook: b.ipynb, method: g, full_notebook: yes}\n",
        "codops: x\nname: \"\u00e9t\u00e9\"\nlist: [1, 2.5, null, ~, true, 2024-01-01]\n".encode(),
        b"\xef\xbb\xbfcodops: bom\n",
    ]
    for path in glob.glob(os.path.join(root, "**", "*.yaml"), recursive=True):
        with open(path, "rb") as f:
            samples.append(f.read())
    compared = 0
    for content in samples:
        text = yamlload._decode("x.yaml", content)
        fast = yamlload._load_fast("x.yaml", text)
        if fast is yamlload._FAILED:
            continue
        assert fast == yamlload._load_pure("x.yaml", text)
        compared += 1
    assert compared >= 3
