from __future__ import annotations

import json
import textwrap
from typing import Dict

import pytest

from peach.config import (
    ConfigError,
    Settings,
    build_model,
    check_notebooks,
    config_base_dir,
    is_config_path,
    make_settings,
    read_notebook,
)
from peach.config.names import matches_any


def read_all(contents: Dict[str, bytes]) -> Dict[str, object]:
    return {path: read_notebook(path, content) for path, content in contents.items()}


FRAMEWORK = b"ray[serve]==2.60.0\nfastapi==0.165.0\npydantic==2.14.3\nstarlette==1.10.0\nprotobuf==7.36.2\n"


def settings(**overrides) -> Settings:
    values = dict(
        injected=["pipe-algorithms-lib", "implicit==0.7.2"],
        framework_path="3rdparty/peach/framework-stack.txt",
        framework_content=FRAMEWORK,
        private_packages=["pipe-algorithms-lib"],
        gateway_environment="codops-gateway",
    )
    values.update(overrides)
    return make_settings(**values)


STACK = ("ray[serve]==2.60.0", "fastapi==0.165.0", "pydantic==2.14.3", "starlette==1.10.0", "protobuf==7.36.2")
INJECTED = ("pipe-algorithms-lib", "implicit==0.7.2")

SPEC_EXAMPLE = """\
codops: zzebu

py_environments:
  base:                       # special: inherited into every environment
    dependencies:
      - orjson==3.10.0
      - httpx
  ml:                         # a shared, reusable environment
    dependencies:
      - torch==2.0
      - transformers

endpoints:
  recommend:
    url: /recommend
    py_env: ml                # run this endpoint in the shared 'ml' environment
    components:
      main:
        notebook: endpoint.ipynb
        method: recommend

tasks:
  reindex:
    notebook: nb.ipynb
    method: run
    py_env: ml                # run this task in the shared 'ml' environment
"""


def model(files: Dict[str, str], **kw):
    return build_model([(p, textwrap.dedent(c).encode()) for p, c in files.items()], kw.pop("s", None) or settings(**kw))


def problems(files: Dict[str, str], **kw) -> str:
    with pytest.raises(ConfigError) as e:
        model(files, **kw)
    return str(e.value)


def envs(m, codops: str = "zzebu") -> Dict[str, tuple]:
    return {e.name: e.requirements for e in m.get(codops).environments}


# --- the specification's example --------------------------------------------------------------


def test_spec_example_produces_the_environments_it_describes() -> None:
    m = model({"peach.conf/zzebu.yaml": SPEC_EXAMPLE})
    assert [c.name for c in m.codops] == ["zzebu"]
    assert envs(m) == {
        "base": (*INJECTED, "orjson==3.10.0", "httpx", *STACK),
        "ml": (*INJECTED, "orjson==3.10.0", "httpx", "torch==2.0", "transformers", *STACK),
        "codops-gateway": (*INJECTED, "orjson==3.10.0", "httpx", *STACK),
    }
    zzebu = m.get("zzebu")
    (endpoint,) = zzebu.endpoints
    assert (endpoint.name, endpoint.url, endpoint.environment) == ("recommend", "/recommend", "ml")
    assert [(c.name, c.notebook.path, c.notebook.method) for c in endpoint.components] == [
        ("main", "endpoint.ipynb", "recommend")
    ]
    (task,) = zzebu.tasks
    assert (task.name, task.environment, task.notebook.path, task.notebook.method) == ("reindex", "ml", "nb.ipynb", "run")


def test_spec_precedence_example() -> None:
    m = model({"peach.conf/a.yaml": """\
        codops: zzebu
        py_environments:
          base:
            dependencies: [tqdm==4.68.3]
          ml:
            dependencies: [tqdm==4.68.2]
        """})
    assert "tqdm==4.68.2" in envs(m)["ml"] and "tqdm==4.68.3" not in envs(m)["ml"]
    assert "tqdm==4.68.3" in envs(m)["base"]


# --- base -------------------------------------------------------------------------------------


def test_base_is_built_without_declaration_and_is_the_default() -> None:
    m = model({"peach.yaml": """\
        codops: debr
        tasks:
          t: {notebook: t.ipynb, method: run}
        """})
    assert envs(m, "debr") == {"base": (*INJECTED, *STACK), "codops-gateway": (*INJECTED, *STACK)}
    assert m.get("debr").tasks[0].environment == "base"


def test_base_reaches_every_environment_and_the_gateway() -> None:
    m = model({"peach.yaml": """\
        codops: debr
        py_environments:
          a: {dependencies: [x]}
          base: {dependencies: [shared==1]}
          b: {dependencies: []}
        """})
    for name in ("a", "b", "base", "codops-gateway"):
        assert "shared==1" in envs(m, "debr")[name]


def test_every_declared_environment_is_built_even_unreferenced() -> None:
    m = model({"peach.yaml": "codops: debr\npy_environments:\n  lonely: {dependencies: [six]}\n"})
    assert set(envs(m, "debr")) == {"base", "lonely", "codops-gateway"}


def test_py_env_base_explicitly() -> None:
    m = model({"peach.yaml": "codops: debr\ntasks:\n  t: {notebook: t.ipynb, method: run, py_env: base}\n"})
    assert m.get("debr").tasks[0].environment == "base"


# --- injected libraries ---------------------------------------------------------------------


def test_user_pin_of_injected_library_in_base_replaces_it() -> None:
    m = model({"peach.yaml": "codops: debr\npy_environments:\n  base: {dependencies: [implicit==0.7.1, pipe-algorithms-lib==1.0.0]}\n"})
    assert envs(m, "debr")["base"][:2] == ("pipe-algorithms-lib==1.0.0", "implicit==0.7.1")


def test_bare_mention_of_injected_library_keeps_the_injected_pin() -> None:
    m = model({"peach.yaml": "codops: debr\npy_environments:\n  base: {dependencies: [implicit]}\n"})
    assert envs(m, "debr")["base"][:2] == INJECTED


def test_pin_of_injected_library_in_named_environment_wins_there_only() -> None:
    m = model({"peach.yaml": "codops: debr\npy_environments:\n  ml: {dependencies: [implicit==0.6.0]}\n  other: {dependencies: []}\n"})
    assert envs(m, "debr")["ml"][1] == "implicit==0.6.0"
    assert envs(m, "debr")["other"][1] == "implicit==0.7.2"
    assert envs(m, "debr")["base"][1] == "implicit==0.7.2"


def test_injected_libraries_are_configurable() -> None:
    m = model({"peach.yaml": "codops: debr\n"}, injected=["mylib==2"])
    assert envs(m, "debr")["base"] == ("mylib==2", *STACK)


def test_private_package_patterns() -> None:
    s = settings(private_packages=["pipe-*", "corp_secret"])
    def is_private(name: str) -> bool:
        return matches_any(name, s.private_packages)

    assert is_private("Pipe_Algorithms.Lib") and is_private("corp-secret") and not is_private("numpy")


# --- union across files -------------------------------------------------------------------------


def test_union_across_files_in_path_order_and_filtered_by_codops() -> None:
    m = model({
        "b/peach.conf/2.yaml": "codops: zzebu\npy_environments:\n  ml: {dependencies: [second]}\n",
        "a/peach.conf/1.yaml": "codops: zzebu\npy_environments:\n  ml: {dependencies: [first]}\n",
        "c/peach.yaml": "codops: debr\npy_environments:\n  ml: {dependencies: [other-codops]}\n",
    })
    assert envs(m)["ml"] == (*INJECTED, "first", "second", *STACK)
    assert envs(m, "debr")["ml"] == (*INJECTED, "other-codops", *STACK)
    zzebu = m.get("zzebu")
    assert zzebu.source_files == ("a/peach.conf/1.yaml", "b/peach.conf/2.yaml")
    assert zzebu.environment("ml").source_files == ("a/peach.conf/1.yaml", "b/peach.conf/2.yaml")


def test_environment_depends_on_base_files_and_its_own() -> None:
    m = model({
        "peach.conf/base.yaml": "codops: zzebu\npy_environments:\n  base: {dependencies: [a]}\n",
        "peach.conf/ml.yaml": "codops: zzebu\npy_environments:\n  ml: {dependencies: [b]}\n",
        "peach.conf/other.yaml": "codops: zzebu\npy_environments:\n  other: {dependencies: [c]}\n",
    })
    zzebu = m.get("zzebu")
    assert zzebu.environment("ml").source_files == ("peach.conf/base.yaml", "peach.conf/ml.yaml")
    assert zzebu.environment("base").source_files == ("peach.conf/base.yaml",)
    assert zzebu.environment("codops-gateway").source_files == ("peach.conf/base.yaml",)


def test_same_string_twice_in_one_tier_is_fine() -> None:
    m = model({
        "a/peach.yaml": "codops: zzebu\npy_environments:\n  ml: {dependencies: [x==1, x]}\n",
        "b/peach.yaml": "codops: zzebu\npy_environments:\n  ml: {dependencies: [x==1]}\n",
    })
    assert envs(m)["ml"] == (*INJECTED, "x==1", *STACK)


def test_conflicting_specifiers_in_one_tier_name_both_places() -> None:
    text = problems({
        "a/peach.yaml": "codops: zzebu\npy_environments:\n  ml:\n    dependencies:\n      - numpy>=2\n",
        "b/peach.yaml": "codops: zzebu\npy_environments:\n  ml:\n    dependencies:\n      - numpy<2\n",
    })
    assert text == (
        "1 problem in the peach configs:\n\n"
        "b/peach.yaml:5: `py_environments.ml.dependencies[0]`: `numpy<2` conflicts with `numpy>=2` declared for "
        "the same environment at a/peach.yaml:5\n"
        "  valid: one version specifier per package and environment\n"
        "  fix: keep one of the two entries"
    )


def test_extras_union_example_from_semantics() -> None:
    m = model({"peach.yaml": "codops: zzebu\npy_environments:\n  base: {dependencies: ['uvicorn[standard]']}\n"
                             "  ml: {dependencies: [uvicorn==0.30.0]}\n"})
    assert "uvicorn[standard]==0.30.0" in envs(m)["ml"]
    assert "uvicorn[standard]" in envs(m)["base"]


def test_provenance_is_recorded() -> None:
    m = model({"peach.conf/a.yaml": "codops: zzebu\npy_environments:\n  base: {dependencies: [tqdm==4.68.3]}\n"
                                    "  ml: {dependencies: [tqdm==4.68.2]}\n"})
    prov = m.get("zzebu").environment("ml").provenance
    assert prov[0].summary() == "pipe-algorithms-lib <- injected ([peach].injected_requirements)"
    assert prov[2].summary() == ("tqdm==4.68.2 <- environment (peach.conf/a.yaml:4); "
                                 "replaced `tqdm==4.68.3` (base, peach.conf/a.yaml:3)")
    assert prov[2].package == "tqdm" and prov[2].tier == "environment" and prov[2].source == "peach.conf/a.yaml:4"
    assert [(d.requirement, d.tier, d.source) for d in prov[2].declarations] == [
        ("tqdm==4.68.2", "environment", "peach.conf/a.yaml:4"), ("tqdm==4.68.3", "base", "peach.conf/a.yaml:3")]
    assert prov[3].summary() == "ray[serve]==2.60.0 <- framework (3rdparty/peach/framework-stack.txt:1)"


# --- rejections: exact messages -------------------------------------------------------------


def one(text: str) -> str:
    head = "1 problem in the peach configs:\n\n"
    assert text.startswith(head), text
    return text[len(head):]


REJECTIONS = [
    (
        "codops: zzebu\ndependencies: [a, b]\n",
        "peach.yaml:2: `dependencies`: the `dependencies` key was removed: dependencies are declared only under "
        "`py_environments`, and endpoints and tasks pick an environment with `py_env`\n"
        "  valid: `py_environments.<env>.dependencies`\n"
        "  fix: move the list to the `base` environment, which every endpoint and task inherits: "
        "`py_environments: {base: {dependencies: [a, b]}}`; or let `pants peach-migrate ::` rewrite every legacy config of the repository",
    ),
    (
        "codops: zzebu\nendpoints:\n  dependencies: [a]\n",
        "peach.yaml:3: `endpoints.dependencies`: the `dependencies` key was removed: dependencies are declared only "
        "under `py_environments`, and endpoints and tasks pick an environment with `py_env`\n"
        "  valid: `py_environments.<env>.dependencies`\n"
        "  fix: move the list to an environment, `py_environments: {base: {dependencies: [a]}}` for all endpoints, "
        "or a named one selected with `py_env: <name>` on each of them; or let `pants peach-migrate ::` rewrite every legacy config of the repository",
    ),
    (
        "codops: zzebu\ntasks:\n  dependencies: [a]\n",
        "peach.yaml:3: `tasks.dependencies`: the `dependencies` key was removed: dependencies are declared only "
        "under `py_environments`, and endpoints and tasks pick an environment with `py_env`\n"
        "  valid: `py_environments.<env>.dependencies`\n"
        "  fix: move the list to an environment, `py_environments: {base: {dependencies: [a]}}` for all tasks, "
        "or a named one selected with `py_env: <name>` on each of them; or let `pants peach-migrate ::` rewrite every legacy config of the repository",
    ),
    (
        "codops: zzebu\nendpoints:\n  rec:\n    url: /r\n    dependencies: [torch]\n"
        "    components: {main: {notebook: a.ipynb, method: f}}\n",
        "peach.yaml:5: `endpoints.rec.dependencies`: the `dependencies` key was removed: dependencies are declared "
        "only under `py_environments`, and endpoints and tasks pick an environment with `py_env`\n"
        "  valid: `py_environments.<env>.dependencies`\n"
        "  fix: declare `py_environments: {rec: {dependencies: [torch]}}` and set `py_env: rec` on the endpoint; or let `pants peach-migrate ::` rewrite every legacy config of the repository",
    ),
    (
        "codops: zzebu\nendpoints:\n  rec:\n    url: /r\n"
        "    components: {main: {notebook: a.ipynb, method: f, dependencies: [torch]}}\n",
        "peach.yaml:5: `endpoints.rec.components.main.dependencies`: the `dependencies` key was removed: "
        "dependencies are declared only under `py_environments`, and endpoints and tasks pick an environment with "
        "`py_env`\n"
        "  valid: `py_environments.<env>.dependencies`\n"
        "  fix: declare `py_environments: {rec: {dependencies: [torch]}}` and set `py_env: rec` on the endpoint "
        "`rec` (all its components run in it); or let `pants peach-migrate ::` rewrite every legacy config of the repository",
    ),
    (
        "codops: zzebu\ntasks:\n  reindex: {notebook: a.ipynb, method: f, dependencies: [faiss-cpu]}\n",
        "peach.yaml:3: `tasks.reindex.dependencies`: the `dependencies` key was removed: dependencies are declared "
        "only under `py_environments`, and endpoints and tasks pick an environment with `py_env`\n"
        "  valid: `py_environments.<env>.dependencies`\n"
        "  fix: declare `py_environments: {reindex: {dependencies: [faiss-cpu]}}` and set `py_env: reindex` on the task; or let `pants peach-migrate ::` rewrite every legacy config of the repository",
    ),
    (
        "codops: zzebu\npy_environments:\n  ml: [torch]\n",
        "peach.yaml:3: `py_environments.ml`: must be a mapping, not a list\n"
        "  valid: a mapping with one key, `dependencies`, holding a list of strings\n"
        "  fix: write `name: value` entries indented under `ml:`, without the `- ` list markers",
    ),
    (
        "codops: zzebu\npy_environments:\n  ml:\n    dependencies: [torch]\n    python: '3.11'\n",
        "peach.yaml:5: `py_environments.ml.python`: unknown key `python`\n"
        "  valid: the known keys here: `dependencies`\n"
        "  fix: remove the key",
    ),
    (
        "codops: zzebu\npy_environments:\n  ml:\n    dependecies: [torch]\n",
        "peach.yaml:4: `py_environments.ml.dependecies`: unknown key `dependecies`; did you mean `dependencies`?\n"
        "  valid: the known keys here: `dependencies`\n"
        "  fix: rename `dependecies` to `dependencies`",
    ),
    (
        "codops: zzebu\npy_environments:\n  ml: {}\n",
        "peach.yaml:3: `py_environments.ml.dependencies`: is missing\n"
        "  valid: a list of requirement strings (it may be empty: `dependencies: []`)\n"
        "  fix: add `dependencies:` under `py_environments.ml`",
    ),
    (
        "codops: zzebu\npy_environments:\n  ml:\n    dependencies: torch\n",
        "peach.yaml:4: `py_environments.ml.dependencies`: must be a list of requirement strings, not a string ('torch')\n"
        "  valid: a PyPI or private-PyPI package name, optionally with extras, a version specifier and a marker: "
        "`orjson`, `orjson==3.10.0`, `numpy>=2`, `uvicorn[standard]==0.30.0`\n"
        "  fix: write it as a list: `dependencies: [torch]`",
    ),
    (
        "codops: zzebu\npy_environments:\n  ml:\n    dependencies:\n      - 2.0\n",
        "peach.yaml:5: `py_environments.ml.dependencies[0]`: must be a requirement string, not a number (2.0)\n"
        "  valid: a PyPI or private-PyPI package name, optionally with extras, a version specifier and a marker: "
        "`orjson`, `orjson==3.10.0`, `numpy>=2`, `uvicorn[standard]==0.30.0`\n"
        "  fix: quote it: `'2.0'`",
    ),
    (
        "codops: zzebu\npy_environments:\n  ml:\n    dependencies:\n      - mylib @ git+https://example.invalid/r.git\n",
        "peach.yaml:5: `py_environments.ml.dependencies[0]`: `mylib @ git+https://example.invalid/r.git`: URL "
        "requirements (`name @ url`) are not allowed\n"
        "  valid: a PyPI or private-PyPI package name, optionally with extras, a version specifier and a marker: "
        "`orjson`, `orjson==3.10.0`, `numpy>=2`, `uvicorn[standard]==0.30.0`\n"
        "  fix: publish the package to the private index and depend on it by name, e.g. `mylib==1.2.0`",
    ),
    (
        "codops: zzebu\npy_environments:\n  base:\n    dependencies:\n      - FastAPI[all]>=0.100\n",
        "peach.yaml:5: `py_environments.base.dependencies[0]`: `FastAPI` belongs to the framework stack, which is "
        "pinned into every environment to stay in sync with the serving image (`fastapi==0.165.0`, "
        "3rdparty/peach/framework-stack.txt:2)\n"
        "  valid: packages outside the framework stack\n"
        "  fix: remove the entry: the framework stack already provides it",
    ),
    (
        "codops: zzebu\npy_environments:\n  ml: {dependencies: []}\ntasks:\n  t: {notebook: t.ipynb, method: run, py_env: mll}\n",
        "peach.yaml:5: `tasks.t.py_env`: unknown environment `mll`; did you mean `ml`?\n"
        "  valid: the environments of codops `zzebu`: `base`, `ml`\n"
        "  fix: set `py_env: ml`",
    ),
    (
        "codops: zzebu\ntasks:\n  t: {notebook: t.ipynb, method: run, py_env: gpu}\n",
        "peach.yaml:3: `tasks.t.py_env`: unknown environment `gpu`\n"
        "  valid: the environments of codops `zzebu`: `base`\n"
        "  fix: declare `gpu` under `py_environments`, or pick one of those",
    ),
    (
        "codops: zzebu\npy_environments:\n  ml: {dependencies: []}\nendpoints:\n  rec:\n    url: /r\n"
        "    components:\n      main: {notebook: a.ipynb, method: f, py_env: ml}\n",
        "peach.yaml:8: `endpoints.rec.components.main.py_env`: `py_env` is not allowed on a component: an endpoint "
        "runs in one environment\n"
        "  valid: `py_env` on the endpoint (`endpoints.rec.py_env`)\n"
        "  fix: move `py_env: ml` up to the endpoint `endpoints.rec`",
    ),
    (
        "codops: 42\n",
        "peach.yaml:1: `codops`: must be a string, not a number (42)\n"
        "  valid: a short lowercase code of letters, digits, `_` or `-`, such as `zzebu` or `chrts`\n"
        "  fix: quote the value",
    ),
    (
        "codops: ZZEBU\n",
        "peach.yaml:1: `codops`: `ZZEBU` is not a valid codops\n"
        "  valid: a short lowercase code of letters, digits, `_` or `-`, such as `zzebu` or `chrts`\n"
        "  fix: write the codops in lowercase",
    ),
    (
        "codops: ../etc\n",
        "peach.yaml:1: `codops`: `../etc` is not a valid codops\n"
        "  valid: a short lowercase code of letters, digits, `_` or `-`, such as `zzebu` or `chrts`\n"
        "  fix: use the codops' short code",
    ),
    (
        "py_environments: {}\n",
        "peach.yaml:1: `codops`: is missing: every peach config names its codops\n"
        "  valid: a short lowercase code of letters, digits, `_` or `-`, such as `zzebu` or `chrts`\n"
        "  fix: add `codops: <your codops>` at the top of the file",
    ),
    (
        "codops: zzebu\nendpoints:\n  rec:\n    url: 5\n    components: {main: {notebook: a.ipynb, method: f}}\n",
        "peach.yaml:4: `endpoints.rec.url`: must be a string, not a number (5)\n"
        "  valid: the endpoint's path, such as `/recommend`\n"
        "  fix: quote the value",
    ),
    (
        "codops: zzebu\ntasks:\n  t: {notebook: t.ipynb, method: run, full_notebook: 'yes'}\n",
        "peach.yaml:3: `tasks.t.full_notebook`: must be a boolean, not a string ('yes')\n"
        "  valid: `true` or `false`\n"
        "  fix: write `true` or `false` without quotes",
    ),
    (
        "codops: zzebu\ntasks:\n  t: {notebook: [t.ipynb], method: run}\n",
        "peach.yaml:3: `tasks.t.notebook`: must be a string, not a list\n"
        "  valid: a path to an `.ipynb` file, relative to the directory holding `peach.conf/`\n"
        "  fix: quote the value",
    ),
    (
        "codops: zzebu\ntasks:\n  t: {notebook: t.ipynb, method: 'run()'}\n",
        "peach.yaml:3: `tasks.t.method`: `run()` is not a Python function name\n"
        "  valid: a Python identifier such as `recommend`\n"
        "  fix: write the name of the function, without `()`",
    ),
    (
        "codops: zzebu\ntasks:\n  t: {notebook: t.ipynb, method: run, py_env: [ml]}\n",
        "peach.yaml:3: `tasks.t.py_env`: must be a string, not a list\n"
        "  valid: the name of an environment under `py_environments`, or `base`\n"
        "  fix: quote the value",
    ),
    (
        "codops: zzebu\nendpoints: [rec]\n",
        "peach.yaml:2: `endpoints`: must be a mapping, not a list\n"
        "  valid: a mapping of endpoint names to endpoints\n"
        "  fix: write `name: value` entries indented under `endpoints:`, without the `- ` list markers",
    ),
    (
        "codops: zzebu\ntasks: nightly\n",
        "peach.yaml:2: `tasks`: must be a mapping, not a string ('nightly')\n"
        "  valid: a mapping of task names to tasks\n"
        "  fix: put `name: value` entries on their own lines, indented under `tasks:`",
    ),
    (
        "codops: zzebu\npy_environments: [ml]\n",
        "peach.yaml:2: `py_environments`: must be a mapping, not a list\n"
        "  valid: a mapping of environment names to `{dependencies: [...]}`\n"
        "  fix: write `name: value` entries indented under `py_environments:`, without the `- ` list markers",
    ),
    (
        "codops: zzebu\nendpoints:\n  rec:\n    url: /r\n    components: [main]\n",
        "peach.yaml:5: `endpoints.rec.components`: must be a mapping, not a list\n"
        "  valid: a mapping of component names (usually `main`) to `{notebook, method}`\n"
        "  fix: write `name: value` entries indented under `components:`, without the `- ` list markers",
    ),
    (
        "codops: zzebu\nendpoints:\n  rec:\n    url: /r\n    py-env: ml\n    components: {main: {notebook: a.ipynb, method: f}}\n",
        "peach.yaml:5: `endpoints.rec.py-env`: unknown key `py-env`; did you mean `py_env`?\n"
        "  valid: the known keys here: `url`, `components`, `py_env`\n"
        "  fix: rename `py-env` to `py_env`",
    ),
    (
        "codops: zzebu\ntasks:\n  t: {notebook: t.ipynb, method: run, pyenv: ml}\n",
        "peach.yaml:3: `tasks.t.pyenv`: unknown key `pyenv`; did you mean `py_env`?\n"
        "  valid: the known keys here: `notebook`, `method`, `full_notebook`, `py_env`\n"
        "  fix: rename `pyenv` to `py_env`",
    ),
    (
        "codops: zzebu\npy_enviroments:\n  ml: {dependencies: []}\n",
        "peach.yaml:2: `py_enviroments`: unknown key `py_enviroments`; did you mean `py_environments`?\n"
        "  valid: the known keys here: `codops`, `py_environments`, `endpoints`, `tasks`\n"
        "  fix: rename `py_enviroments` to `py_environments`",
    ),
    (
        "codops: zzebu\ntasks:\n  t: {notebok: t.ipynb, notebook: t.ipynb, method: run}\n",
        "peach.yaml:3: `tasks.t.notebok`: unknown key `notebok`; did you mean `notebook`?\n"
        "  valid: the known keys here: `notebook`, `method`, `full_notebook`, `py_env`\n"
        "  fix: rename `notebok` to `notebook`",
    ),
    (
        "codops: zzebu\ncodops: debr\n",
        "peach.yaml:2:1: duplicate key `codops` in one mapping (first written at line 1); YAML would silently keep "
        "only the last one\n"
        "  fix: write the key once: merge the two entries or delete one",
    ),
    (
        "codops: zzebu\npy_environments:\n  ml:\n    dependencies: [a\n",
        "peach.yaml:5:1: invalid YAML: while parsing a flow sequence; expected ',' or ']', but got '<stream end>' "
        "(the construct started at line 4)\n"
        "  fix: correct the YAML syntax at that position",
    ),
    (
        "codops: zzebu\npy_environments:\n  'my env': {dependencies: []}\n",
        "peach.yaml:3: `py_environments.my env`: `my env` is not a valid environment name\n"
        "  valid: letters, digits, `_`, `.` and `-`, starting with a letter or digit (at most 100 characters), such "
        "as `ml` or `ranking-v2`\n"
        "  fix: rename the environment",
    ),
    (
        "codops: zzebu\npy_environments:\n  codops-gateway: {dependencies: []}\n",
        "peach.yaml:3: `py_environments.codops-gateway`: `codops-gateway` is reserved for the internal CodopsGateway "
        "environment\n"
        "  valid: any other environment name\n"
        "  fix: rename the environment",
    ),
    (
        "codops: zzebu\ntasks:\n  t: {notebook: /abs/t.ipynb, method: run}\n",
        "peach.yaml:3: `tasks.t.notebook`: `/abs/t.ipynb` is an absolute path\n"
        "  valid: a relative path to an `.ipynb` file inside the repository\n"
        "  fix: write the path relative to the directory that holds `peach.conf/`",
    ),
    (
        "codops: zzebu\ntasks:\n  t: {notebook: ../../t.ipynb, method: run}\n",
        "peach.yaml:3: `tasks.t.notebook`: `../../t.ipynb` points outside the repository\n"
        "  valid: a relative path to an `.ipynb` file inside the repository\n"
        "  fix: keep notebooks inside the repository, next to the config",
    ),
    (
        "codops: zzebu\ntasks:\n  t: {notebook: t.py, method: run}\n",
        "peach.yaml:3: `tasks.t.notebook`: `t.py` is not a notebook (`.ipynb`) file\n"
        "  valid: a relative path to an `.ipynb` file inside the repository\n"
        "  fix: point `notebook` at the `.ipynb` file",
    ),
    (
        "codops: zzebu\ntasks:\n  t: {method: run}\n",
        "peach.yaml:3: `tasks.t.notebook`: is missing\n"
        "  valid: a path to an `.ipynb` file, relative to the directory holding `peach.conf/`\n"
        "  fix: add `notebook: <file>.ipynb` under `tasks.t`",
    ),
    (
        "codops: zzebu\nendpoints:\n  rec:\n    components: {main: {notebook: a.ipynb, method: f}}\n",
        "peach.yaml:4: `endpoints.rec.url`: is missing\n"
        "  valid: the endpoint's path, such as `/recommend`\n"
        "  fix: add `url: /rec` under `endpoints.rec`",
    ),
    (
        "codops: zzebu\nendpoints:\n  rec:\n    url: /r\n",
        "peach.yaml:4: `endpoints.rec.components`: is missing\n"
        "  valid: a mapping of component names (usually `main`) to `{notebook, method}`\n"
        "  fix: add `components: {main: {notebook: <file>.ipynb, method: <function>}}` under `endpoints.rec`",
    ),
    (
        "",
        "peach.yaml: the file is empty\n"
        "  valid: a mapping with at least `codops: <code>`\n"
        "  fix: add `codops: <your codops>` at the top of the file, or delete the file",
    ),
    (
        "- codops: zzebu\n",
        "peach.yaml:1: the top level must be a mapping, not a list\n"
        "  valid: a mapping with `codops`, `py_environments`, `endpoints` and `tasks`\n"
        "  fix: start the file with `codops: <your codops>`",
    ),
]


@pytest.mark.parametrize("content, expected", REJECTIONS, ids=[str(i) for i in range(len(REJECTIONS))])
def test_rejections(content: str, expected: str) -> None:
    with pytest.raises(ConfigError) as e:
        build_model([("peach.yaml", content.encode())], settings())
    assert one(str(e.value)) == expected


def test_all_problems_of_a_run_are_reported_together() -> None:
    text = problems({
        "a/peach.yaml": "codops: zzebu\ndependencies: [x]\n",
        "b/peach.yaml": "codops: zzebu\ntasks:\n  t: {notebook: t.ipynb, method: run, py_env: nope}\n",
        "c/peach.yaml": "codops: [zzebu]\n",
    })
    assert text.startswith("3 problems in the peach configs:\n\n")
    assert "a/peach.yaml:2: `dependencies`" in text
    assert "b/peach.yaml:3: `tasks.t.py_env`: unknown environment `nope`" in text
    assert "c/peach.yaml:1: `codops`: must be a string, not a list" in text


def test_other_unknown_keys_on_endpoints_tasks_and_components_are_left_alone() -> None:
    m = model({"peach.yaml": """\
        codops: zzebu
        owner: team-reco
        endpoints:
          rec:
            url: /r
            spectrum: {title: Recommendations}
            components:
              main: {notebook: a.ipynb, method: f, timeout: 30}
        tasks:
          t: {notebook: t.ipynb, method: run, schedule: daily}
        """})
    assert [e.name for e in m.get("zzebu").endpoints] == ["rec"]


def test_duplicate_endpoint_across_files() -> None:
    text = problems({
        "a/peach.yaml": "codops: zzebu\ntasks:\n  t: {notebook: t.ipynb, method: run}\n",
        "b/peach.yaml": "codops: zzebu\ntasks:\n  t: {notebook: t.ipynb, method: run}\n",
    })
    assert one(text) == (
        "b/peach.yaml:3: `tasks.t`: the task `t` of codops `zzebu` is already declared at a/peach.yaml:3\n"
        "  valid: each task name once per codops\n"
        "  fix: rename one of the two tasks, or delete one"
    )


def test_environment_names_differing_only_in_case() -> None:
    text = problems({"peach.yaml": "codops: zzebu\npy_environments:\n  ML: {dependencies: []}\n  ml: {dependencies: []}\n"})
    assert "`py_environments.ml`: `ml` differs from the environment `ML` only in letter case" in text


def test_bad_option_values_name_the_option() -> None:
    with pytest.raises(ConfigError) as e:
        settings(injected=["git+https://example.invalid/x.git"])
    assert one(str(e.value)).startswith(
        "[peach].injected_requirements: `git+https://example.invalid/x.git`: URL requirements are not allowed")
    with pytest.raises(ConfigError) as e:
        settings(framework_content=None)
    assert one(str(e.value)).startswith(
        "[peach].framework_stack: the framework stack file `3rdparty/peach/framework-stack.txt` does not exist")
    with pytest.raises(ConfigError) as e:
        settings(framework_content=b"ray[serve]==2.60.0\nfastapi[\n")
    assert one(str(e.value)).startswith("3rdparty/peach/framework-stack.txt:2: `fastapi[`: not a valid PEP 508")


# --- files and notebooks ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, is_config, base",
    [
        ("peach.yaml", True, ""),
        ("svc/peach.yaml", True, "svc"),
        ("svc/peach.conf/a.yaml", True, "svc"),
        ("svc/peach.conf/a.yml", True, "svc"),
        ("peach.conf/a.yaml", True, ""),
        ("svc/other.yaml", False, "svc"),
    ],
)
def test_config_paths(path: str, is_config: bool, base: str) -> None:
    assert is_config_path(path) is is_config
    assert config_base_dir(path) == base


def notebook(*cells: str) -> bytes:
    return json.dumps({"cells": [{"cell_type": "code", "source": c} for c in cells] +
                       [{"cell_type": "markdown", "source": "def in_markdown(): pass"}], "nbformat": 4}).encode()


NOTEBOOK_CONFIG = {"svc/peach.conf/a.yaml": """\
    codops: zzebu
    endpoints:
      rec:
        url: /r
        components:
          main: {notebook: nb/rec.ipynb, method: recommend}
    tasks:
      t: {notebook: nb/task.ipynb, method: run_async}
    """}


def test_notebook_paths_are_relative_to_the_config_dir() -> None:
    m = model(NOTEBOOK_CONFIG)
    assert m.notebook_paths == ("svc/nb/rec.ipynb", "svc/nb/task.ipynb")


def test_notebooks_define_their_methods() -> None:
    m = model(NOTEBOOK_CONFIG)
    check_notebooks(m, read_all({
        "svc/nb/rec.ipynb": notebook("import x\n", ["def helper():\n", "    pass\n", "def recommend(user):\n", "    pass\n"]),
        "svc/nb/task.ipynb": notebook("async def run_async():\n    pass\n"),
    }))


def test_notebook_problems() -> None:
    m = model(NOTEBOOK_CONFIG)
    with pytest.raises(ConfigError) as e:
        check_notebooks(m, read_all({"svc/nb/rec.ipynb": notebook("def recomend(user):\n    pass\n", "    def recommend():\n")}))
    assert str(e.value) == (
        "2 problems in the peach configs:\n\n"
        "svc/peach.conf/a.yaml:6: `endpoints.rec.components.main.method`: no code cell of `svc/nb/rec.ipynb` defines "
        "`recommend` (a top-level `def recommend(`); did you mean `recomend`?\n"
        "  valid: the functions the notebook defines: `recomend`\n"
        "  fix: set `method: recomend`\n\n"
        "svc/peach.conf/a.yaml:8: `tasks.t.notebook`: the notebook `svc/nb/task.ipynb` does not exist\n"
        "  valid: a path relative to the directory that holds `peach.conf/` (or `peach.yaml`)\n"
        "  fix: fix the path, or add the notebook to the repository"
    )


def test_notebook_that_is_not_json() -> None:
    m = model(NOTEBOOK_CONFIG)
    with pytest.raises(ConfigError) as e:
        check_notebooks(m, read_all({"svc/nb/rec.ipynb": b"def recommend(): pass", "svc/nb/task.ipynb": notebook("async def run_async(): pass")}))
    assert one(str(e.value)) == (
        "svc/peach.conf/a.yaml:6: `endpoints.rec.components.main.notebook`: `svc/nb/rec.ipynb` is not a valid Jupyter "
        "notebook (not JSON with a `cells` list)\n"
        "  valid: an `.ipynb` file saved by Jupyter\n"
        "  fix: re-save the notebook from Jupyter"
    )


def test_model_is_deterministic_regardless_of_file_order() -> None:
    files = {
        "b/peach.yaml": "codops: zzebu\npy_environments:\n  ml: {dependencies: [b]}\n",
        "a/peach.yaml": "codops: zzebu\npy_environments:\n  ml: {dependencies: [a]}\n",
    }
    forward = build_model([(p, c.encode()) for p, c in files.items()], settings())
    backward = build_model([(p, c.encode()) for p, c in reversed(list(files.items()))], settings())
    assert forward == backward


def test_notebook_symlinked_out_of_the_repo() -> None:
    m = model(NOTEBOOK_CONFIG)
    with pytest.raises(ConfigError) as e:
        check_notebooks(m, read_all({"svc/nb/task.ipynb": notebook("async def run_async(): pass")}), escaping=["svc/nb/rec.ipynb"])
    assert one(str(e.value)) == (
        "svc/peach.conf/a.yaml:6: `endpoints.rec.components.main.notebook`: `svc/nb/rec.ipynb` is a symbolic link "
        "that leads outside the repository\n"
        "  valid: a notebook file inside the repository\n"
        "  fix: copy the notebook into the repository instead of linking to it"
    )


def test_a_file_that_does_not_parse_comes_first_without_knock_on_errors() -> None:
    text = problems({
        "a/peach.yaml": "codops: zzebu\npy_environments:\n  ml: {dependencies: [torch]\n",  # unclosed flow mapping
        "b/peach.yaml": "codops: zzebu\ntasks:\n  t: {notebook: t.ipynb, method: run, py_env: ml}\n",
        "c/peach.yaml": "codops: debr\ntasks:\n  t: {notebook: t.ipynb, method: run, py_env: nope}\n",
    })
    assert text.startswith("2 problems in the peach configs:\n\na/peach.yaml:4:1: "), text
    assert "unknown environment `ml`" not in text  # a knock-on error of a/peach.yaml
    assert "c/peach.yaml:3: `tasks.t.py_env`: unknown environment `nope`" in text  # another codops: still checked


def test_the_removed_dependencies_fix_keeps_an_existing_py_env() -> None:
    text = one(problems({"peach.yaml": "codops: zzebu\npy_environments:\n  ml: {dependencies: [torch]}\n"
                                       "tasks:\n  t: {notebook: t.ipynb, method: run, py_env: ml, dependencies: [faiss]}\n"}))
    assert "fix: the task already runs in `ml`: add the packages to that environment, " in text
    assert "`py_environments: {ml: {dependencies: [<its packages>, faiss]}}`" in text
    assert "declare `py_environments: {t:" not in text
