from __future__ import annotations

import dataclasses
import textwrap
from typing import Dict, List, Tuple

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from peach.config import ConfigError, Settings, build_model, make_settings
from peach.config.yamlload import YamlLoadError, load_yaml
from peach.migrate import FileChange, MigrationResult, migrate
from peach.migrate import run as migrate_module
from peach.migrate.file import FileEdits
from peach.migrate.files import legacy_keys
from peach.migrate.read import scalar_text
from peach.migrate.tree import Source, comments_in, parse_tree, path_at

FRAMEWORK = b"ray[serve]==2.60.0\nfastapi==0.165.0\npydantic==2.14.3\nstarlette==1.10.0\nprotobuf==7.36.2\n"
PATH = "svc/peach.conf/app.yaml"


def settings() -> Settings:
    return make_settings(["pipe-algorithms-lib", "implicit==0.7.2"], "3rdparty/peach/framework-stack.txt",
                         FRAMEWORK, ["pipe-algorithms-lib"], "codops-gateway")


def run(text: str, path: str = PATH) -> str:
    """The migrated text of one file (the original when nothing changes)."""
    content = textwrap.dedent(text).encode()
    changes = migrate([(path, content)], settings()).changes
    return changes[0].new.decode() if changes else content.decode()


def is_legacy(path: str, content: bytes) -> bool:
    """Whether the file has a removed `dependencies:` key; a file that does not parse has none to see."""
    try:
        return bool(legacy_keys(load_yaml(path, content)))
    except YamlLoadError:
        return False


def error(files: Dict[str, str]) -> str:
    with pytest.raises(ConfigError) as e:
        migrate([(p, textwrap.dedent(c).encode()) for p, c in files.items()], settings())
    return str(e.value)


ENDPOINT = """\
codops: zzebu
endpoints:
  recommend:
    url: /recommend
    dependencies: [torch==2.0]
    components:
      main:
        notebook: endpoint.ipynb
        method: recommend
"""


# -- the API --------------------------------------------------------------------------------

def test_results_are_frozen_and_carry_old_and_new_bytes() -> None:
    result = migrate([(PATH, ENDPOINT.encode())], settings())
    assert isinstance(result, MigrationResult) and len(result.changes) == 1
    change = result.changes[0]
    assert isinstance(change, FileChange) and change.path == PATH and change.old == ENDPOINT.encode()
    assert b"py_env: recommend" in change.new and change.summary
    with pytest.raises(dataclasses.FrozenInstanceError):
        change.path = "x"  # type: ignore[misc]


def test_nothing_to_migrate_is_no_change() -> None:
    migrated = migrate([(PATH, ENDPOINT.encode())], settings()).changes[0].new
    assert migrate([(PATH, migrated)], settings()) == MigrationResult(())
    assert migrate([], settings()) == MigrationResult(())


@pytest.mark.parametrize("text", [
    "codops: x\ndependencies: []\n",
    "codops: x\nendpoints:\n  dependencies: [a]\n",
    "codops: x\ntasks:\n  dependencies:\n",
    "codops: x\ntasks:\n  t: {notebook: n.ipynb, method: m, dependencies: [a]}\n",
    "codops: x\nendpoints:\n  e:\n    components:\n      main: {dependencies: [a]}\n",
    "codops: x\nendpoints:\n  e:\n    dependencies: [a]\n",
    "codops: x\ntpl: &t {dependencies: [a]}\ntasks:\n  t:\n    <<: *t\n",
])
def test_is_legacy_finds_every_removed_key(text: str) -> None:
    assert is_legacy(PATH, text.encode())


@pytest.mark.parametrize("text", [
    "codops: x\npy_environments:\n  base:\n    dependencies: [a]\n",
    "codops: x\nother:\n  dependencies: [a]\n",  # not a place the removed key was read
    "codops: x\ndependencies: [a\n",  # does not parse
    "- a\n",
    "",
])
def test_is_legacy_is_false_elsewhere(text: str) -> None:
    assert not is_legacy(PATH, text.encode())


# -- what is written --------------------------------------------------------------------------

def test_own_list_is_replaced_in_place_by_py_env() -> None:
    assert run(ENDPOINT) == textwrap.dedent("""\
        codops: zzebu
        py_environments:
          recommend:
            dependencies:
              - torch==2.0
        endpoints:
          recommend:
            url: /recommend
            py_env: recommend
            components:
              main:
                notebook: endpoint.ipynb
                method: recommend
        """)


def test_existing_py_env_value_is_replaced_and_its_entries_copied() -> None:
    out = run("""\
        codops: zzebu
        py_environments:
          ml:
            dependencies: ["torch==2.0"]  # pinned
        tasks:
          train:
            py_env: ml  # GPU
            notebook: nb.ipynb
            method: train
            dependencies: [wandb]
        """)
    assert "    py_env: train  # GPU\n" in out
    assert "  train:\n    dependencies:\n      - \"torch==2.0\"\n      - wandb\n" in out


def test_crlf_and_bom_are_kept() -> None:
    content = "\ufeffcodops: zzebu\r\ndependencies:\r\n  - httpx\r\n".encode()
    new = migrate([(PATH, content)], settings()).changes[0].new
    assert new == "\ufeffcodops: zzebu\r\npy_environments:\r\n  base:\r\n    dependencies:\r\n      - httpx\r\n".encode()


def test_names_are_made_unique_and_shared_by_identical_entries() -> None:
    out = run("""\
        codops: zzebu
        py_environments:
          a:
            dependencies: []
        tasks:
          a: {notebook: n.ipynb, method: m, dependencies: [x]}
          b: {notebook: n.ipynb, method: m, dependencies: [x]}
          c: {notebook: n.ipynb, method: m, dependencies: [y]}
        """)
    assert "a: {notebook: n.ipynb, method: m, py_env: a-2}" in out
    assert "b: {notebook: n.ipynb, method: m, py_env: a-2}" in out
    assert "c: {notebook: n.ipynb, method: m, py_env: c}" in out


def test_new_environments_go_into_the_file_of_the_legacy_keys() -> None:
    files = [("svc/peach.conf/envs.yaml", b"codops: zzebu\npy_environments:\n  ml:\n    dependencies: [torch]\n"),
             ("svc/peach.conf/tasks.yaml", b"codops: zzebu\ntasks:\n  t:\n    notebook: n.ipynb\n    method: m\n"
              b"    py_env: ml\n    dependencies: [wandb]\n")]
    changes = migrate(files, settings()).changes
    assert [c.path for c in changes] == ["svc/peach.conf/tasks.yaml"]
    assert changes[0].new == (b"codops: zzebu\npy_environments:\n  t:\n    dependencies:\n      - torch\n      - wandb\n"
                              b"tasks:\n  t:\n    notebook: n.ipynb\n    method: m\n    py_env: t\n")


# -- what stops it ------------------------------------------------------------------------------

def test_unparsable_file_is_a_located_error_even_without_legacy_keys() -> None:
    assert error({PATH: "codops: zzebu\nx: [a\n"}).startswith(f"1 problem in the peach configs:\n\n{PATH}:3:1: invalid YAML")


def test_conflict_names_both_entries_and_nothing_is_written() -> None:
    message = error({PATH: """\
        codops: zzebu
        tasks:
          dependencies: [torch==2.0]
          t: {notebook: n.ipynb, method: m, dependencies: [torch==2.1]}
        """})
    assert f"{PATH}:4: `tasks.t.dependencies[0]`: `torch==2.1` conflicts with `torch==2.0` " \
           f"(`tasks.dependencies[0]`, {PATH}:3)" in message
    assert "ran with the later one, `torch==2.1`" in message


def test_framework_package_is_an_error() -> None:
    message = error({PATH: "codops: zzebu\ndependencies: [Ray==2.0]\n"})
    assert f"{PATH}:2: `dependencies[0]`: `Ray==2.0` is a framework-stack package (`ray[serve]==2.60.0`" in message


def test_other_config_problems_come_first_and_removed_keys_are_not_reported() -> None:
    message = error({PATH: "codops: zzebu\ndependencies: [a]\ntasks:\n  t: {notebook: n.ipynb, method: m, py_env: ml}\n"})
    assert message.startswith("1 problem") and "unknown environment `ml`" in message


def test_a_wrong_rewrite_is_caught_before_anything_is_returned(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(f, plan, style) -> FileEdits:
        return FileEdits("codops: zzebu\npy_environments:\n  recommend:\n    dependencies: [torch==2.1]\n"
                         "endpoints:\n  recommend:\n    url: /r\n    py_env: recommend\n    components:\n"
                         "      main: {notebook: e.ipynb, method: m}\n", ("x",))

    monkeypatch.setattr(migrate_module, "rewrite", broken)
    with pytest.raises(ConfigError) as e:
        migrate([(PATH, ENDPOINT.encode())], settings())
    assert "would change what the endpoint runs with" in str(e.value)
    assert "would change `py_environments` beyond the migrated keys" in str(e.value)


# -- the helpers ------------------------------------------------------------------------------

@pytest.mark.parametrize("value, text", [
    ("torch==2.0", "torch==2.0"), ("true", "'true'"), ("2024", "'2024'"), ("a: b", "'a: b'"),
    ("it's #1", "'it''s #1'"), ("it's 1", "it's 1"), ("x #y", "'x #y'"), ("*x", "'*x'"), ("", "''"),
    ("numpy; python_version < '3.12'", "numpy; python_version < '3.12'"),
])
def test_scalar_text_reads_back_as_the_same_string(value: str, text: str) -> None:
    assert scalar_text(value) == text


def test_scalar_text_in_flow_quotes_flow_indicators() -> None:
    assert scalar_text("uvicorn[standard]", flow=True) == "'uvicorn[standard]'"


def test_source_lines_and_comments() -> None:
    source = Source.of("f.yaml", b"a: 1  # one\r\n# two\r\nb: '#x'\r\n")
    assert source.nl == "\r\n" and source.lineno(source.text.index("b")) == 3
    assert source.line_text(0) == "a: 1  # one" and source.last_line == 2
    found = comments_in(source, 4, source.text.index("b"))
    assert [(c.text, c.own_line, c.gap) for c in found] == [("# one", False, "  "), ("# two", True, "")]
    tree = parse_tree(source)
    assert tree.in_scalar(source.text.index("#x")) and not tree.is_comment_line(2) and tree.is_comment_line(1)


def test_path_at_names_the_innermost_key() -> None:
    tree = parse_tree(Source.of("f.yaml", b"a:\n  b: [x, y]\n"))
    assert path_at(tree, tree.source.text.index("y")) == "a.b[1]"
    assert path_at(tree, tree.source.text.index("b")) == "a.b"


# -- properties -------------------------------------------------------------------------------

PACKAGES = ["numpy", "numpy>=2", "torch==2.0", "torch", "torch==2.1", "httpx", "orjson==3.10.0", "uvicorn[standard]",
            "uvicorn==0.30.0", "implicit", "tqdm>=4.60"]
lists = st.one_of(st.none(), st.lists(st.sampled_from(PACKAGES), max_size=3))


def _deps(indent: str, deps, flow: bool) -> List[str]:
    if deps is None:
        return []
    if flow:
        return [f"{indent}dependencies: [{', '.join(scalar_text(d, flow=True) for d in deps)}]"]
    return [f"{indent}dependencies:" + ("" if deps else " []"), *(f"{indent}  - {d}  # c" for d in deps)]


@st.composite
def legacy_configs(draw) -> List[Tuple[str, bytes]]:
    files = []
    for index in range(draw(st.integers(1, 2))):
        flow = draw(st.booleans())
        lines = ["codops: zzebu", *_deps("", draw(lists), flow)]
        if draw(st.booleans()):
            lines += ["py_environments:", f"  {draw(st.sampled_from(['base', 'ml']))}:", "    dependencies: [httpx]"]
        lines += ["endpoints:", *_deps("  ", draw(lists), flow)]
        for e in range(draw(st.integers(0, 2))):
            py_env = [f"    py_env: {draw(st.sampled_from(['base', 'ml']))}"] if draw(st.booleans()) else []
            lines += [f"  ep{index}{e}:", f"    url: /e{e}", *py_env, *_deps("    ", draw(lists), flow), "    components:",
                      "      main:", "        notebook: e.ipynb", "        method: m", *_deps("        ", draw(lists), flow)]
        lines += ["tasks:", *_deps("  ", draw(lists), not flow)]
        for t in range(draw(st.integers(0, 2))):
            lines += [f"  t{index}{t}:", "    notebook: n.ipynb", "    method: m", *_deps("    ", draw(lists), flow)]
        files.append((f"svc/peach.conf/{index}.yaml", ("\n".join(lines) + "\n").encode()))
    return files


@hypothesis_settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(legacy_configs())
def test_any_legacy_config_migrates_to_a_valid_idempotent_config_or_a_located_error(files) -> None:
    try:
        changes = migrate(files, settings()).changes
    except ConfigError as e:
        assert all(p.line > 0 and p.fix for p in e.problems), str(e)
        return
    if not any(is_legacy(p, c) for p, c in files):
        assert changes == ()  # nothing to migrate: today's problems are not the migration's to report
        return
    migrated = dict(files)
    migrated.update({c.path: c.new for c in changes})
    result = sorted(migrated.items())
    build_model(result, settings())
    assert not any(is_legacy(p, c) for p, c in result)
    assert migrate(result, settings()).changes == ()
