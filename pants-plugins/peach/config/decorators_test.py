from __future__ import annotations

import json
import textwrap
from typing import Dict, Sequence, Tuple, Union

from peach.config import ConfigError, build_model, make_settings, read_notebook
from peach.config.decorators import (
    DecoratedFunction,
    check_decorators,
    decorated_of,
    find_decorated,
    parse_cell,
)

FRAMEWORK = b"ray[serve]==2.60.0\nfastapi==0.165.0\npydantic==2.14.3\nstarlette==1.10.0\nprotobuf==7.36.2\n"


def decorated_records(codops, found_functions) -> list:
    """`decorated_of` as the fields `environments.json` lists, to compare with."""
    return [{"notebook": d.notebook, "cell": d.cell, "line": d.line, "function": d.function, "decorator": d.kind,
             "environment": d.environment} for d in decorated_of(codops, found_functions)]


def settings():
    return make_settings(
        injected=["pipe-algorithms-lib", "implicit==0.7.2"],
        framework_path="3rdparty/peach/framework-stack.txt",
        framework_content=FRAMEWORK,
        private_packages=["pipe-algorithms-lib"],
        gateway_environment="codops-gateway",
    )


def model(files: Dict[str, str]):
    return build_model([(p, textwrap.dedent(c).encode()) for p, c in files.items()], settings())


Cell = Union[str, Tuple[str, str]]  # a code cell's source, or (cell_type, source)


def notebook(path: str, cells: Sequence[Cell]):
    doc = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    for cell in cells:
        kind, source = cell if isinstance(cell, tuple) else ("code", cell)
        source = textwrap.dedent(source)
        doc["cells"].append({"cell_type": kind, "metadata": {}, "source": source.splitlines(keepends=True),
                             **({"outputs": [], "execution_count": None} if kind == "code" else {})})
    return read_notebook(path, json.dumps(doc).encode())


def found(*notebooks) -> Dict[str, Tuple[DecoratedFunction, ...]]:
    return {nb.path: find_decorated(nb) for nb in notebooks}


def rows(nb) -> list:
    return [(d.cell, d.line, d.function, d.kind, d.environment) for d in find_decorated(nb)]


def rendered(problems) -> str:
    return str(ConfigError(problems)) if problems else ""


ZZEBU = """\
    codops: zzebu
    py_environments:
      base: {dependencies: [orjson==3.10.0]}
      ml: {dependencies: [torch==2.0]}
      ranking: {dependencies: [lightgbm]}
    endpoints:
      recommend:
        url: /recommend
        py_env: ml
        components:
          main:
            notebook: endpoint.ipynb
            method: recommend
    tasks:
      reindex:
        notebook: nb.ipynb
        method: run
        py_env: ml
      cleanup:
        notebook: nb.ipynb
        method: clean
    """


# --- finding ---------------------------------------------------------------------------------


def test_literal_and_non_literal_py_env() -> None:
    nb = notebook("nb.ipynb", ["""\
        import peach

        @peach.task(py_env="ml")
        def run():
            pass

        ENV = "ml"

        @peach.task(py_env=ENV)
        def later():
            pass

        @peach.peach(py_env="ml" "-v2")
        def joined():
            pass

        @peach.peach(py_env=f"ranking")
        def fstring():
            pass

        @peach.peach(py_env=f"{ENV}")
        def formatted():
            pass

        @peach.task(py_env=None)
        def none():
            pass
        """])
    assert rows(nb) == [
        (1, 3, "run", "task", "ml"),
        (1, 9, "later", "task", None),
        (1, 13, "joined", "peach", "ml-v2"),
        (1, 17, "fstring", "peach", "ranking"),
        (1, 21, "formatted", "peach", None),
        (1, 25, "none", "task", None),
    ]


def test_cell_numbers_count_every_cell_and_lines_are_within_the_cell() -> None:
    nb = notebook("nb.ipynb", [
        ("markdown", "# Title"),
        "import peach",
        ("raw", "raw"),
        "x = 1\n\n@peach.endpoint_component(py_env='ml')\ndef recommend(request):\n    return x\n",
    ])
    assert rows(nb) == [(4, 3, "recommend", "endpoint_component", "ml")]
    (d,) = find_decorated(nb)
    assert d.notebook == "nb.ipynb"


def test_attribute_bare_and_alias_forms() -> None:
    nb = notebook("nb.ipynb", [
        "import peach as p\nfrom peach import task\nfrom peach import endpoint_component as ec, peach as pk\n",
        """\
        @p.task(py_env="a")
        def f1(): pass

        @task(py_env="b")
        def f2(): pass

        @ec(py_env="c")
        def f3(): pass

        @pk(py_env="d")
        def f4(): pass

        @peach(py_env="e")
        def f5(): pass

        @some.deep.module.endpoint_component(py_env="f")
        def f6(): pass

        @p.peach(py_env="g")
        def f7(): pass
        """,
    ])
    assert [(r[2], r[3], r[4]) for r in rows(nb)] == [
        ("f1", "task", "a"), ("f2", "task", "b"), ("f3", "endpoint_component", "c"),
        ("f4", "peach", "d"), ("f5", "peach", "e"), ("f6", "endpoint_component", "f"), ("f7", "peach", "g"),
    ]


def test_alias_imported_in_a_later_cell_still_counts() -> None:
    # cells share one namespace and may run in any order
    nb = notebook("nb.ipynb", ["@t(py_env='ml')\ndef run(): pass\n", "from peach import task as t\n"])
    assert rows(nb) == [(1, 1, "run", "task", "ml")]


def test_what_is_not_a_peach_decorator_call() -> None:
    nb = notebook("nb.ipynb", ["""\
        import peach

        @peach.task
        def no_call(): pass

        @peach.task()
        def no_py_env(): pass

        @peach.task("ml")
        def positional(): pass

        @other(py_env="ml")
        def other_name(): pass

        @peach.tasks(py_env="ml")
        def near_name(): pass

        run = peach.task(py_env="ml")(lambda: None)

        @peach.task(**options)
        def spread(): pass
        """])
    # only the `**options` call may carry a py_env: found, with an unknown environment
    assert rows(nb) == [(1, 20, "spread", "task", None)]


def test_async_methods_nested_functions_and_classes() -> None:
    nb = notebook("nb.ipynb", ["""\
        import peach

        @peach.task(py_env="ml")
        async def run():
            @peach.task(py_env="inner")
            def helper():
                pass

        class Model:
            @peach.endpoint_component(py_env="ranking")
            async def predict(self):
                pass

        @peach.peach(py_env="ml")
        class Job:
            pass

        if True:
            try:
                @peach.task(py_env="ml")
                def guarded():
                    pass
            except ImportError:
                pass
        """])
    assert rows(nb) == [
        (1, 3, "run", "task", "ml"),
        (1, 5, "run.<locals>.helper", "task", "inner"),
        (1, 10, "Model.predict", "endpoint_component", "ranking"),
        (1, 14, "Job", "peach", "ml"),
        (1, 20, "guarded", "task", "ml"),
    ]


def test_multi_line_decorator_is_located_at_its_first_line() -> None:
    nb = notebook("nb.ipynb", ["import peach\n\n\n@peach.task(\n    schedule='daily',\n    py_env='ml',\n)\ndef run(): pass\n"])
    assert rows(nb) == [(1, 4, "run", "task", "ml")]


def test_repeated_py_env_is_not_a_literal() -> None:
    nb = notebook("nb.ipynb", ["@task(py_env='a', py_env='b')\ndef run(): pass\n"])
    assert rows(nb) == [(1, 1, "run", "task", None)]


def test_magics_and_shell_escapes_are_set_aside_line_by_line() -> None:
    nb = notebook("nb.ipynb", [
        "!pip install torch\n%load_ext autoreload\n%autoreload 2\nimport peach\n",
        "%time x = 1\ndisplay?\n?peach.task\npeach.task??\nfiles = !ls\n\n@peach.task(py_env='ml')\ndef run():\n    %time y = 2\n    return files\n",
        "%%bash\necho hi\n@task(py_env='ml')\n",
        "\n%%time\n@peach.task(py_env='ranking')\ndef timed():\n    pass\n",
        "%%capture out\n!ls\n@peach.task(py_env='ml')\n!echo between decorator and def\ndef captured():\n    pass\n",
        "%%writefile x.py\n@peach.task(py_env='nope')\ndef written(): pass\n",
        "for i in range(3):\n    %time f(i)\n\n@peach.task(py_env='ml')\ndef loop(): pass\n",
    ])
    assert rows(nb) == [
        (2, 7, "run", "task", "ml"),
        (4, 3, "timed", "task", "ranking"),
        (5, 3, "captured", "task", "ml"),
        (7, 4, "loop", "task", "ml"),
    ]


def test_a_magic_inside_a_string_is_left_alone() -> None:
    tree = parse_cell("%time f()\ntext = '''\n%not a magic\n'''\n")
    assert tree is not None
    assert "%not a magic" in tree.body[1].value.value


def test_indented_cell_is_dedented_as_ipython_does() -> None:
    nb = notebook("nb.ipynb", ["    @task(py_env='ml')\n    def run():\n        pass\n"])
    assert rows(nb) == [(1, 1, "run", "task", "ml")]


def test_cells_that_do_not_parse_are_skipped_without_traceback() -> None:
    nb = notebook("nb.ipynb", [
        "@task(py_env='ml')\ndef broken(:\n    pass\n",
        "match command:\n    case 'go':\n        pass\n@task(py_env='ml')\ndef newer(): pass\n",
        "x = 'a\x00b'\n",
        "x = " + "(" * 300 + ")" * 300 + "\n",
        "x = " + "-" * 100000 + "1\n",
        "\tif x:\n        pass\n",
        "@task(py_env='ml')\ndef fine(): pass\n",
    ])
    assert rows(nb) == [(7, 1, "fine", "task", "ml")]


def test_not_a_notebook_finds_nothing() -> None:
    assert find_decorated(read_notebook("nb.ipynb", b"not json")) == ()
    assert find_decorated(notebook("nb.ipynb", [])) == ()


def test_find_keeps_the_notebook_order() -> None:
    nb = notebook("nb.ipynb", ["@task(py_env='b')\ndef b(): pass\n@task(py_env='a')\ndef a(): pass\n"])
    assert [d.function for d in find_decorated(nb)] == ["b", "a"]


# --- checking --------------------------------------------------------------------------------


def test_valid_decorators_give_no_problem() -> None:
    m = model({"example/zzebu/peach.conf/a.yaml": ZZEBU})
    nb = notebook("example/zzebu/nb.ipynb", [
        "import peach",
        "@peach.task(py_env='ml')\ndef run(): pass\n\n@peach.task(py_env='base')\ndef clean(): pass\n",
        "@peach.task(py_env='ranking')\ndef other(): pass\n\n@peach.task(py_env=ENV)\ndef dynamic(): pass\n",
    ])
    ep = notebook("example/zzebu/endpoint.ipynb", ["@endpoint_component(py_env='ml')\ndef recommend(r): pass\n"])
    assert check_decorators(m.get("zzebu"), found(nb, ep)) == ()


def test_unknown_environment_with_did_you_mean() -> None:
    m = model({"example/zzebu/peach.conf/a.yaml": ZZEBU})
    nb = notebook("example/zzebu/nb.ipynb", ["import peach", "x = 1\n@peach.task(py_env='rankng')\ndef other(): pass\n"])
    (problem,) = check_decorators(m.get("zzebu"), found(nb))
    assert problem.render() == (
        "example/zzebu/nb.ipynb: cell 2, line 2: the `task` decorator on `other` selects `py_env=\"rankng\"`, "
        "which is not an environment of codops `zzebu`; did you mean `ranking`?\n"
        "  valid: the environments of codops `zzebu`: `base`, `ml`, `ranking`\n"
        "  fix: write `py_env=\"ranking\"`, or declare `rankng` under `py_environments` of codops `zzebu`"
    )


def test_unknown_environment_without_a_close_name() -> None:
    m = model({"example/zzebu/peach.conf/a.yaml": ZZEBU})
    nb = notebook("example/zzebu/nb.ipynb", ["@task(py_env='gpu-cluster-xyz')\ndef other(): pass\n"])
    (problem,) = check_decorators(m.get("zzebu"), found(nb))
    assert "did you mean" not in problem.what
    assert problem.fix == ("declare `gpu-cluster-xyz` under `py_environments` of codops `zzebu`, "
                           "or write one of those names in the decorator")


def test_the_gateway_environment_is_not_selectable() -> None:
    m = model({"example/zzebu/peach.conf/a.yaml": ZZEBU})
    nb = notebook("example/zzebu/nb.ipynb", ["@task(py_env='codops-gateway')\ndef other(): pass\n"])
    (problem,) = check_decorators(m.get("zzebu"), found(nb))
    assert "`codops-gateway`" not in problem.valid


def test_long_or_odd_names_are_shortened() -> None:
    m = model({"example/zzebu/peach.conf/a.yaml": ZZEBU})
    nb = notebook("example/zzebu/nb.ipynb", ["@task(py_env='" + "x" * 200 + "\\n')\ndef other(): pass\n"])
    (problem,) = check_decorators(m.get("zzebu"), found(nb))
    assert "x" * 100 not in problem.render()
    assert "\n" not in problem.what


def test_decorator_conflicting_with_the_config_names_both_places() -> None:
    m = model({"example/zzebu/peach.conf/a.yaml": ZZEBU})
    nb = notebook("example/zzebu/nb.ipynb", ["import peach", "@peach.task(py_env='ranking')\ndef run(): pass\n"])
    (problem,) = check_decorators(m.get("zzebu"), found(nb))
    assert problem.render() == (
        "example/zzebu/nb.ipynb: cell 2, line 1: the `task` decorator on `run` selects `py_env=\"ranking\"`, "
        "but the config of codops `zzebu` runs `run` as `tasks.reindex` in the environment `ml` "
        "(example/zzebu/peach.conf/a.yaml:16); the two must agree\n"
        "  valid: `py_env=\"ml\"`, the environment of `tasks.reindex`\n"
        "  fix: write `py_env=\"ml\"` in the decorator, or set `py_env: ranking` on `tasks.reindex` in "
        "example/zzebu/peach.conf/a.yaml"
    )


def test_conflict_with_the_default_base_environment() -> None:
    m = model({"example/zzebu/peach.conf/a.yaml": ZZEBU})
    nb = notebook("example/zzebu/nb.ipynb", ["@task(py_env='ml')\ndef clean(): pass\n"])
    (problem,) = check_decorators(m.get("zzebu"), found(nb))
    assert "as `tasks.cleanup` in the environment `base`" in problem.what
    assert problem.fix.endswith("set `py_env: ml` on `tasks.cleanup` in example/zzebu/peach.conf/a.yaml")


def test_decorator_selecting_base_against_a_named_environment() -> None:
    m = model({"example/zzebu/peach.conf/a.yaml": ZZEBU})
    ep = notebook("example/zzebu/endpoint.ipynb", ["@endpoint_component(py_env='base')\ndef recommend(r): pass\n"])
    (problem,) = check_decorators(m.get("zzebu"), found(ep))
    assert "as `endpoints.recommend.components.main` in the environment `ml` (example/zzebu/peach.conf/a.yaml:12)" \
        in problem.what
    assert problem.fix == ("write `py_env=\"ml\"` in the decorator, or remove `py_env` from `endpoints.recommend` "
                           "in example/zzebu/peach.conf/a.yaml (no `py_env` means `base`)")


def test_unknown_environment_on_a_configured_method_suggests_the_config_environment() -> None:
    m = model({"example/zzebu/peach.conf/a.yaml": ZZEBU})
    nb = notebook("example/zzebu/nb.ipynb", ["@task(py_env='mll')\ndef run(): pass\n"])
    (problem,) = check_decorators(m.get("zzebu"), found(nb))  # one problem, not also a conflict
    assert "did you mean `ml`?" in problem.what
    assert problem.fix == ("write `py_env=\"ml\"`, the environment the config gives `tasks.reindex` "
                           "(example/zzebu/peach.conf/a.yaml:16)")


def test_methods_and_nested_functions_are_not_the_configured_method() -> None:
    m = model({"example/zzebu/peach.conf/a.yaml": ZZEBU})
    nb = notebook("example/zzebu/nb.ipynb", ["""\
        class Runner:
            @task(py_env='ranking')
            def run(self): pass

        def outer():
            @task(py_env='ranking')
            def run(): pass
        """])
    assert check_decorators(m.get("zzebu"), found(nb)) == ()
    # but their names are still checked
    bad = notebook("example/zzebu/nb.ipynb", ["class Runner:\n    @task(py_env='nope')\n    def run(self): pass\n"])
    (problem,) = check_decorators(m.get("zzebu"), found(bad))
    assert "on `Runner.run`" in problem.what


def test_non_literal_py_env_is_not_checked() -> None:
    m = model({"example/zzebu/peach.conf/a.yaml": ZZEBU})
    nb = notebook("example/zzebu/nb.ipynb", ["@task(py_env=pick())\ndef run(): pass\n@task(**o)\ndef clean(): pass\n"])
    assert check_decorators(m.get("zzebu"), found(nb)) == ()
    assert [r["environment"] for r in decorated_records(m.get("zzebu"), found(nb))] == [None, None]


def test_only_notebooks_of_this_codops_are_checked() -> None:
    m = model({"example/zzebu/peach.conf/a.yaml": ZZEBU})
    stray = notebook("example/zzebu/unused.ipynb", ["@task(py_env='nope')\ndef run(): pass\n"])
    assert check_decorators(m.get("zzebu"), found(stray)) == ()
    assert decorated_records(m.get("zzebu"), found(stray)) == []


def test_missing_notebook_is_not_this_checks_business() -> None:
    m = model({"example/zzebu/peach.conf/a.yaml": ZZEBU})
    assert check_decorators(m.get("zzebu"), {}) == ()


def test_notebook_with_magics_is_checked() -> None:
    m = model({"example/zzebu/peach.conf/a.yaml": ZZEBU})
    nb = notebook("example/zzebu/nb.ipynb", [
        "%pip install torch\n!nvidia-smi\nimport peach\n",
        "%%bash\necho '@peach.task(py_env=\"nope\")'\n",
        "%time warm_up()\n\n@peach.task(py_env='mlx')\ndef other(): pass\n",
    ])
    (problem,) = check_decorators(m.get("zzebu"), found(nb))
    assert problem.render().startswith("example/zzebu/nb.ipynb: cell 3, line 3: the `task` decorator on `other`")


SHARED = {
    "example/peach.conf/zzebu.yaml": """\
        codops: zzebu
        py_environments:
          ml: {dependencies: [torch]}
        tasks:
          train: {notebook: shared.ipynb, method: train, py_env: ml}
        """,
    "example/peach.conf/debr.yaml": """\
        codops: debr
        py_environments:
          gpu: {dependencies: [torch]}
        tasks:
          train: {notebook: shared.ipynb, method: train, py_env: gpu}
        """,
}


def test_shared_notebook_is_checked_per_codops() -> None:
    m = model(SHARED)
    nb = notebook("example/shared.ipynb", ["import peach", "@peach.task(py_env='ml')\ndef helper(): pass\n"])
    assert check_decorators(m.get("zzebu"), found(nb)) == ()
    (problem,) = check_decorators(m.get("debr"), found(nb))
    assert problem.render() == (
        "example/shared.ipynb: cell 2, line 1: the `task` decorator on `helper` selects `py_env=\"ml\"`, "
        "which is not an environment of codops `debr`\n"
        "  valid: the environments of codops `debr`: `base`, `gpu`\n"
        "  fix: declare `ml` under `py_environments` of codops `debr`, or write one of those names in the decorator"
    )


def test_shared_notebook_conflict_for_one_codops_only() -> None:
    m = model(SHARED)
    nb = notebook("example/shared.ipynb", ["@task(py_env='gpu')\ndef train(): pass\n"])
    (zzebu,) = check_decorators(m.get("zzebu"), found(nb))
    assert "not an environment of codops `zzebu`" in zzebu.what
    assert check_decorators(m.get("debr"), found(nb)) == ()
    both = {
        "example/peach.conf/zzebu.yaml": SHARED["example/peach.conf/zzebu.yaml"].replace("ml: {", "gpu: {").replace(
            "py_env: ml", "py_env: base"),
        "example/peach.conf/debr.yaml": SHARED["example/peach.conf/debr.yaml"],
    }
    (conflict,) = check_decorators(model(both).get("zzebu"), found(nb))
    assert "runs `train` as `tasks.train` in the environment `base` (example/peach.conf/zzebu.yaml:5)" in conflict.what
    assert check_decorators(model(both).get("debr"), found(nb)) == ()


def test_problems_are_one_config_error_without_traceback_noise() -> None:
    m = model({"example/zzebu/peach.conf/a.yaml": ZZEBU})
    nb = notebook("example/zzebu/nb.ipynb", ["@task(py_env='x1')\ndef a(): pass\n@task(py_env='ranking')\ndef run(): pass\n"])
    text = rendered(check_decorators(m.get("zzebu"), found(nb)))
    assert text.startswith("2 problems in the peach configs:")
    assert "Traceback" not in text


# --- environments.json records ------------------------------------------------------------------


def test_records_per_codops_sorted_and_json_ready() -> None:
    m = model(SHARED)
    nb = notebook("example/shared.ipynb", [
        "import peach as p",
        "@p.task(py_env='ml')\ndef train(): pass\n",
        "@p.endpoint_component(py_env=ENV)\nasync def serve(): pass\n\n@p.peach(py_env='gpu')\ndef a(): pass\n",
    ])
    other = notebook("example/other.ipynb", ["@task(py_env='ml')\ndef x(): pass\n"])
    records = decorated_records(m.get("zzebu"), found(other, nb))
    assert records == [
        {"notebook": "example/shared.ipynb", "cell": 2, "line": 1, "function": "train", "decorator": "task",
         "environment": "ml"},
        {"notebook": "example/shared.ipynb", "cell": 3, "line": 1, "function": "serve",
         "decorator": "endpoint_component", "environment": None},
        {"notebook": "example/shared.ipynb", "cell": 3, "line": 4, "function": "a", "decorator": "peach",
         "environment": "gpu"},
    ]
    assert json.loads(json.dumps(records)) == records
    assert decorated_records(m.get("debr"), found(other, nb)) == records  # the same notebook, listed for each


def test_records_of_several_notebooks_are_sorted_by_path() -> None:
    m = model({"example/zzebu/peach.conf/a.yaml": ZZEBU})
    nb = notebook("example/zzebu/nb.ipynb", ["@task(py_env='ml')\ndef run(): pass\n"])
    ep = notebook("example/zzebu/endpoint.ipynb", ["@endpoint_component(py_env='ml')\ndef recommend(r): pass\n"])
    assert [r["notebook"] for r in decorated_records(m.get("zzebu"), found(nb, ep))] == [
        "example/zzebu/endpoint.ipynb", "example/zzebu/nb.ipynb"]


def test_one_function_run_by_two_config_entries_reports_each_disagreement() -> None:
    config = ZZEBU.replace("      cleanup:\n        notebook: nb.ipynb\n        method: clean\n",
                           "      cleanup:\n        notebook: nb.ipynb\n        method: run\n")
    m = model({"example/zzebu/peach.conf/a.yaml": config})
    nb = notebook("example/zzebu/nb.ipynb", ["@task(py_env='ranking')\ndef run(): pass\n"])
    problems = check_decorators(m.get("zzebu"), found(nb))
    assert sorted(p.what.split(" as ")[1].split(" in ")[0] for p in problems) == ["`tasks.cleanup`", "`tasks.reindex`"]
    nb = notebook("example/zzebu/nb.ipynb", ["@task(py_env='ml')\ndef run(): pass\n"])
    (problem,) = check_decorators(m.get("zzebu"), found(nb))  # agrees with reindex, not with cleanup (base)
    assert "as `tasks.cleanup` in the environment `base`" in problem.what
