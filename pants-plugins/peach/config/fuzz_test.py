"""Property-based tests of the config model (hypothesis).

(a) mutated valid configs and (b) random YAML documents and bytes: `build_model` either succeeds or
raises `ConfigError`, never anything else, and every problem it reports is located in an input file.

(c) resolution over generated valid configs: the final lists are what semantics §4 says (checked
against an independent reference implementation below), no package appears twice, base entries reach
every environment unless overridden, and the result does not depend on the order files are passed in.

Every test is derandomized (the same examples on every run) and keeps no example database, so CI is
reproducible and nothing is written next to the sources. 2,200 examples in all, under 30 s on one core.
"""
from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
from typing import Dict, List, Optional, Sequence, Tuple

import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from peach.config import ConfigError, Model, build_model, make_settings
from peach.config.model_test import SPEC_EXAMPLE

FRAMEWORK_STACK = b"ray[serve]==2.60.0\nfastapi==0.165.0\npydantic==2.14.3\nstarlette==1.10.0\nprotobuf==7.36.2\n"
INJECTED = ("pipe-algorithms-lib", "implicit==0.7.2")
FRAMEWORK = ("ray[serve]==2.60.0", "fastapi==0.165.0", "pydantic==2.14.3", "starlette==1.10.0", "protobuf==7.36.2")

if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
    # Hypothesis caches (unicode tables, constants) even without an example database: keep them out of
    # the working tree.
    _STORAGE = tempfile.mkdtemp(prefix="peach-hypothesis-")
    atexit.register(shutil.rmtree, _STORAGE, ignore_errors=True)
    set_hypothesis_home_dir(_STORAGE)

SETTINGS = make_settings(
    injected=list(INJECTED),
    framework_path="3rdparty/peach/framework-stack.txt",
    framework_content=FRAMEWORK_STACK,
    private_packages=["pipe-algorithms-lib"],
    gateway_environment="codops-gateway",
)


def fuzz_settings(examples: int):
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


def build_or_config_error(files: Sequence[Tuple[str, bytes]]) -> Optional[Model]:
    """`build_model`, which must either succeed or raise a well-formed ConfigError."""
    try:
        return build_model(files, SETTINGS)
    except ConfigError as e:
        paths = {path for path, _ in files}
        assert e.problems, "a ConfigError without problems"
        for problem in e.problems:
            assert problem.path in paths, problem
            assert problem.line >= 0 and problem.column >= 0, problem
            assert problem.what, problem
        text = str(e)
        assert text.startswith(f"{len(e.problems)} problem"), text[:200]
        return None


# ---------------------------------------------------------------------------------------------
# (a) mutations of valid configs
# ---------------------------------------------------------------------------------------------

VALID_CONFIGS = [
    SPEC_EXAMPLE,
    """\
codops: debr
py_environments:
  base: {dependencies: ['uvicorn[standard]', tqdm==4.68.3, 'numpy>=2; python_version >= "3.9"']}
  gpu-v2:
    dependencies: [tqdm==4.68.2, implicit==0.6.0, Pipe_Algorithms.Lib==1.0.0]
  empty: {dependencies: []}
endpoints:
  rank:
    url: /rank
    spectrum: {title: Ranking, owner: team-reco}
    components:
      main: {notebook: nb/rank.ipynb, method: rank, full_notebook: true}
      fallback: {notebook: nb/rank.ipynb, method: fallback}
  popular:
    url: /popular
    components:
      main: {notebook: nb/popular.ipynb, method: popular}
tasks:
  nightly: {notebook: nb/nightly.ipynb, method: run, py_env: gpu-v2, full_notebook: false}
  hourly: {notebook: nb/nightly.ipynb, method: hourly, py_env: base}
""",
    """\
codops: chrts
defaults: &component
  notebook: shared.ipynb
  method: serve
endpoints:
  a:
    url: /a
    components:
      main:
        <<: *component
  b:
    url: /b
    py_env: extra
    components:
      main:
        <<: *component
        method: serve_b
py_environments:
  extra:
    dependencies:
      - scikit-learn>=1.4,<2
""",
]
VALID_DATA = [yaml.safe_load(text) for text in VALID_CONFIGS]
SECOND_FILE = (
    "svc/peach.conf/zz-other.yaml",
    b"codops: zzebu\npy_environments:\n  ml: {dependencies: [scipy]}\n"
    b"tasks:\n  other: {notebook: o.ipynb, method: run}\n",
)

KNOWN_WORDS = [
    "codops", "py_environments", "endpoints", "tasks", "dependencies", "url", "components", "py_env",
    "notebook", "method", "full_notebook", "base", "ml", "main", "codops-gateway", "py-env", "pyenv",
    "dependecies", "notebok", "compnents", "methd", "py_enviroments", "<<",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(KNOWN_WORDS),
    st.sampled_from(["orjson==3.10.0", "fastapi", "-e .", "x @ https://e.invalid/x.whl", "../../x.ipynb",
                     "/abs.ipynb", "nb.ipynb", "ZZEBU", "2024-01-01", "yes", "~", "", " ", "\t"]),
)
keys = st.one_of(st.sampled_from(KNOWN_WORDS), st.text(max_size=12), st.integers(-3, 3), st.none(), st.booleans())
values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=4)),
    max_leaves=12,
)

Path = Tuple[object, ...]


def walk(node: object, path: Path = ()) -> List[Path]:
    """Every path (keys and indices) into a YAML data tree, the root included."""
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found.extend(walk(value, path + (key,)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(walk(value, path + (index,)))
    return found


def get(node: object, path: Path) -> object:
    for step in path:
        node = node[step]  # type: ignore[index]
    return node


def put(node: object, path: Path, value: object) -> object:
    if not path:
        return value
    parent = get(node, path[:-1])
    parent[path[-1]] = value  # type: ignore[index]
    return node


def copy(node: object) -> object:
    if isinstance(node, dict):
        return {k: copy(v) for k, v in node.items()}
    if isinstance(node, list):
        return [copy(v) for v in node]
    return node


def mutate_data(data: st.DataObject, tree: object) -> object:
    tree = copy(tree)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        paths = walk(tree)
        path = data.draw(st.sampled_from(paths), label="path")
        op = data.draw(st.sampled_from(["delete", "retype", "swap", "rename", "unicode", "wrap"]), label="op")
        if op == "delete" and path:
            parent = get(tree, path[:-1])
            del parent[path[-1]]  # type: ignore[attr-defined]
        elif op == "retype":
            tree = put(tree, path, data.draw(values, label="value"))
        elif op == "swap":
            other = data.draw(st.sampled_from(paths), label="other")
            a, b = copy(get(tree, path)), copy(get(tree, other))
            if path[: len(other)] != other and other[: len(path)] != path:  # neither contains the other
                tree = put(tree, path, b)
                tree = put(tree, other, a)
        elif op == "rename" and path and isinstance(get(tree, path[:-1]), dict):
            parent = get(tree, path[:-1])
            new_key = data.draw(keys, label="new key")
            parent[new_key] = parent.pop(path[-1])  # type: ignore[attr-defined]
        elif op == "unicode":
            junk = data.draw(st.text(min_size=1, max_size=8), label="junk")
            target = get(tree, path)
            if isinstance(target, str):
                at = data.draw(st.integers(0, len(target)), label="at")
                tree = put(tree, path, target[:at] + junk + target[at:])
            elif path and isinstance(get(tree, path[:-1]), dict) and isinstance(path[-1], str):
                parent = get(tree, path[:-1])
                parent[path[-1] + junk] = parent.pop(path[-1])  # type: ignore[attr-defined]
        elif op == "wrap":
            tree = put(tree, path, data.draw(st.sampled_from([[get(tree, path)], {"x": get(tree, path)}])))
    return tree


def mutate_text(data: st.DataObject, content: bytes) -> bytes:
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        lines = content.split(b"\n")
        op = data.draw(st.sampled_from(["indent", "dedent", "tab", "duplicate-line", "swap-lines",
                                        "truncate", "insert-bytes", "delete-range", "insert-text"]), label="op")
        i = data.draw(st.integers(0, max(len(lines) - 1, 0)), label="line")
        if op == "indent":
            lines[i] = b" " * data.draw(st.integers(1, 6)) + lines[i]
        elif op == "dedent":
            lines[i] = lines[i][data.draw(st.integers(1, 6)):]
        elif op == "tab":
            lines[i] = b"\t" + lines[i].lstrip(b" ")
        elif op == "duplicate-line":
            lines.insert(i, lines[i])  # duplicate keys, duplicate list items
        elif op == "swap-lines":
            j = data.draw(st.integers(0, max(len(lines) - 1, 0)))
            lines[i], lines[j] = lines[j], lines[i]
        content = b"\n".join(lines)
        at = data.draw(st.integers(0, len(content)), label="at")
        if op == "truncate":
            content = content[:at]
        elif op == "insert-bytes":
            content = content[:at] + data.draw(st.binary(min_size=1, max_size=8)) + content[at:]
        elif op == "delete-range":
            content = content[:at] + content[at + data.draw(st.integers(1, 20)):]
        elif op == "insert-text":
            content = content[:at] + data.draw(st.text(min_size=1, max_size=8)).encode("utf-8") + content[at:]
    return content


@fuzz_settings(400)
@given(st.data())
def test_mutated_data_of_valid_configs_never_crash(data: st.DataObject) -> None:
    tree = mutate_data(data, data.draw(st.sampled_from(VALID_DATA), label="config"))
    dumped = yaml.safe_dump(tree, sort_keys=False, allow_unicode=data.draw(st.booleans(), label="unicode"),
                            default_flow_style=data.draw(st.sampled_from([False, None, True]), label="style"))
    files = [("svc/peach.conf/a.yaml", dumped.encode("utf-8"))]
    if data.draw(st.booleans(), label="second file"):
        files.append(SECOND_FILE)
    build_or_config_error(files)


@fuzz_settings(450)
@given(st.data())
def test_mutated_text_of_valid_configs_never_crash(data: st.DataObject) -> None:
    content = mutate_text(data, data.draw(st.sampled_from(VALID_CONFIGS), label="config").encode("utf-8"))
    name = data.draw(st.sampled_from(["svc/peach.conf/a.yaml", "svc/peach.conf/a.yml", "svc/peach.yaml"]))
    files = [(name, content)]
    if data.draw(st.booleans(), label="second file"):
        files.append(SECOND_FILE)
    build_or_config_error(files)


# ---------------------------------------------------------------------------------------------
# (b) random documents and bytes
# ---------------------------------------------------------------------------------------------

config_shaped = st.fixed_dictionaries(
    {"codops": st.one_of(st.sampled_from(["zzebu", "debr"]), scalars)},
    optional={"py_environments": values, "endpoints": values, "tasks": values, "dependencies": values},
)


@fuzz_settings(400)
@given(st.one_of(values, config_shaped), st.booleans(), st.sampled_from([False, None, True]))
def test_random_yaml_documents_never_crash(document: object, unicode: bool, style: Optional[bool]) -> None:
    dumped = yaml.safe_dump(document, sort_keys=False, allow_unicode=unicode, default_flow_style=style)
    build_or_config_error([("svc/peach.conf/random.yaml", dumped.encode("utf-8"))])


YAML_SYMBOLS = st.sampled_from(
    [b"codops: zzebu\n", b":", b"- ", b"  ", b"\t", b"\n", b"&a ", b"*a", b"<<: ", b"[", b"]", b"{", b"}", b"---\n",
     b"'", b'"', b"#", b"!!", b"? ", b"|", b">", b"%YAML 1.1\n", b"\xef\xbb\xbf", b"\x00", b"\xff", b"dependencies",
     b"py_env: ", b"py_environments:\n", b"notebook: ", b"method: ", b"\\", b"@", b"`"]
)


@fuzz_settings(450)
@given(st.one_of(st.binary(max_size=300), st.lists(YAML_SYMBOLS | st.binary(max_size=4), max_size=40).map(b"".join)))
def test_random_bytes_never_crash(content: bytes) -> None:
    build_or_config_error([("svc/peach.conf/bytes.yaml", content)])


# ---------------------------------------------------------------------------------------------
# (c) resolution properties over generated valid configs
# ---------------------------------------------------------------------------------------------

# Spellings of a few packages, so that PEP 503 collisions happen (case, `-`, `_`, `.`), including
# the two injected libraries. Framework-stack names are mixed in rarely: they must be rejected.
SPELLINGS = {
    "alpha": ["alpha", "Alpha", "ALPHA"],
    "beta-gamma": ["beta-gamma", "beta_gamma", "Beta.Gamma", "beta--gamma"],
    "delta": ["delta", "Delta"],
    "implicit": ["implicit", "Implicit"],
    "pipe-algorithms-lib": ["pipe-algorithms-lib", "Pipe_Algorithms.Lib"],
}
FRAMEWORK_SPELLINGS = ["FastAPI", "pydantic", "Ray", "star_lette", "starlette"]
FRAMEWORK_KEYS = {"ray", "fastapi", "pydantic", "starlette", "protobuf"}
# Specifiers and markers in packaging's normalised form (clauses are sorted when rendered).
SPECIFIERS = ["", "", "", "==1.0", "==2.0", ">=1", ">=1,<3", "~=1.4", "!=1.5"]
MARKERS = ["", "", "", 'python_version >= "3.8"', 'sys_platform == "linux"']
EXTRAS = [(), (), ("a",), ("b",), ("a", "b"), ("standard",)]
ENV_NAMES = ["base", "ml", "gpu-v2", "Etl.v2"]
FILE_PATHS = ["svc/peach.conf/a.yaml", "svc/peach.conf/b.yml", "other/peach.yaml", "svc/peach.conf/c.yaml"]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


class Dep:
    """One dependency as the generator wrote it (independent of peach.requirements)."""

    def __init__(self, name: str, extras: Tuple[str, ...], spec: str, marker: str, path: str, key: str) -> None:
        self.name, self.extras, self.spec, self.marker, self.path, self.key = name, extras, spec, marker, path, key

    @property
    def text(self) -> str:
        text = self.name + (f"[{','.join(self.extras)}]" if self.extras else "") + self.spec
        return text + (f"; {self.marker}" if self.marker else "")

    @property
    def canonical(self) -> str:
        return canonical(self.name)


def parse_plain(text: str) -> Dep:
    """The injected and framework entries of SETTINGS (plain `name[extras]==v` strings)."""
    m = re.fullmatch(r"([A-Za-z0-9._-]+)(?:\[([a-z,]+)\])?(.*)", text)
    assert m, text
    return Dep(m.group(1), tuple(m.group(2).split(",")) if m.group(2) else (), m.group(3), "", "", "")


def normalised_spec(spec: str) -> str:
    return ",".join(sorted(spec.split(","))) if spec else ""


def reference_resolve(candidates: Sequence[Dep]) -> List[str]:
    """Semantics §4, written independently: first-appearance order; if any entry is specified the bare
    ones are dropped; the last remaining entry wins (name as written, specifier, marker); extras are
    the union of every entry's extras."""
    order: List[str] = []
    groups: Dict[str, List[Dep]] = {}
    for dep in candidates:
        if dep.canonical not in groups:
            order.append(dep.canonical)
            groups[dep.canonical] = []
        groups[dep.canonical].append(dep)
    final = []
    for key in order:
        group = groups[key]
        specified = [d for d in group if d.spec]
        winner = (specified or group)[-1]
        extras = sorted({x for d in group for x in d.extras})
        text = winner.name + (f"[{','.join(extras)}]" if extras else "") + normalised_spec(winner.spec)
        final.append(text + (f"; {winner.marker}" if winner.marker else ""))
    return final


@st.composite
def dependency(draw, allow_framework: bool) -> Tuple[str, Tuple[str, ...], str, str]:
    if allow_framework and draw(st.integers(0, 30)) == 0:
        name = draw(st.sampled_from(FRAMEWORK_SPELLINGS))
    else:
        name = draw(st.sampled_from(SPELLINGS[draw(st.sampled_from(sorted(SPELLINGS)))]))
    return name, draw(st.sampled_from(EXTRAS)), draw(st.sampled_from(SPECIFIERS)), draw(st.sampled_from(MARKERS))


@st.composite
def valid_repo(draw, allow_framework: bool = True):
    """Config files of codops `zzebu` (plus one of another codops) as Python data, and the deps written."""
    paths = draw(st.lists(st.sampled_from(FILE_PATHS), min_size=1, max_size=4, unique=True))
    # Most repos keep one specifier per package and environment (no within-tier conflict), so that
    # most examples resolve; the others may conflict, and must then be rejected exactly there.
    consistent = draw(st.integers(0, 2)) > 0
    chosen: Dict[Tuple[str, str], Tuple[str, str]] = {}
    files: Dict[str, dict] = {}
    declared: set = set()
    for path in paths:
        envs = {}
        for env in draw(st.lists(st.sampled_from(ENV_NAMES), max_size=3, unique=True)):
            deps = []
            for name, extras, spec, marker in draw(st.lists(dependency(allow_framework), max_size=5)):
                if consistent and spec:
                    spec, marker = chosen.setdefault((env, canonical(name)), (spec, marker))
                text = name + (f"[{','.join(extras)}]" if extras else "") + spec
                deps.append(text + (f"; {marker}" if marker else ""))
            envs[env] = {"dependencies": deps}
            declared.add(env)
        config: dict = {"codops": "zzebu"}
        if envs or draw(st.booleans()):
            config["py_environments"] = envs
        files[path] = config
    # endpoints and tasks pick declared environments (or none: base)
    choices = sorted(declared | {"base"})
    first = files[paths[0]]
    first["endpoints"] = {"rec": {"url": "/rec", "components": {"main": {"notebook": "r.ipynb", "method": "rec"}}}}
    env = draw(st.sampled_from([None, *choices]))
    if env is not None:
        first["endpoints"]["rec"]["py_env"] = env
    first["tasks"] = {f"t{i}": {"notebook": "t.ipynb", "method": "run", **({"py_env": e} if e else {})}
                      for i, e in enumerate(draw(st.lists(st.sampled_from([None, *choices]), max_size=3)))}
    contents = [(path, yaml.safe_dump(config, sort_keys=False, default_flow_style=False).encode("utf-8"))
                for path, config in files.items()]
    # another codops in the same repo: its environments must not leak into zzebu's
    contents.append(("elsewhere/peach.yaml",
                     b"codops: debr\npy_environments:\n  base: {dependencies: [alpha==9.9, leaky]}\n"
                     b"  ml: {dependencies: [leaky-ml]}\n"))
    return contents, files


def user_deps(files: Dict[str, dict]) -> Dict[str, List[Dep]]:
    """Each environment's dependencies, concatenated over the files in path order."""
    by_env: Dict[str, List[Dep]] = {}
    for path in sorted(files):
        for env, decl in (files[path].get("py_environments") or {}).items():
            by_env.setdefault(env, [])
            for index, text in enumerate(decl["dependencies"]):
                m = re.fullmatch(r"([A-Za-z0-9._-]+)(?:\[([a-z,]+)\])?([^;]*)(?:; (.*))?", text)
                assert m, text
                extras = tuple(m.group(2).split(",")) if m.group(2) else ()
                key = f"py_environments.{env}.dependencies[{index}]"
                by_env[env].append(Dep(m.group(1), extras, m.group(3), m.group(4) or "", path, key))
    return by_env


def expected_problems(by_env: Dict[str, List[Dep]]) -> set:
    """(path, key) of every problem the model must report: framework packages, within-tier conflicts."""
    problems = set()
    for deps in by_env.values():
        first: Dict[str, Dep] = {}
        for dep in deps:
            if dep.canonical in FRAMEWORK_KEYS:
                problems.add((dep.path, dep.key))
            if not dep.spec:
                continue
            earlier = first.setdefault(dep.canonical, dep)
            if (normalised_spec(earlier.spec), earlier.marker) != (normalised_spec(dep.spec), dep.marker):
                problems.add((dep.path, dep.key))
    return problems


def resolved(model: Model) -> Dict[str, Tuple[str, ...]]:
    return {env.name: env.requirements for env in model.get("zzebu").environments}


@fuzz_settings(350)
@given(valid_repo())
def test_resolution_follows_semantics_section_4(repo) -> None:
    contents, files = repo
    by_env = user_deps(files)
    problems = expected_problems(by_env)
    try:
        model = build_model(contents, SETTINGS)
    except ConfigError as e:
        event("rejected: framework package or within-tier conflict")
        assert {(p.path, p.key) for p in e.problems} == problems, str(e)
        return
    event("accepted")
    assert not problems, f"expected problems at {sorted(problems)}"

    injected = [parse_plain(t) for t in INJECTED]
    framework = [parse_plain(t) for t in FRAMEWORK]
    base = by_env.get("base", [])
    expected = {"base": reference_resolve([*injected, *base, *framework]),
                "codops-gateway": reference_resolve([*injected, *base, *framework])}
    for env, deps in by_env.items():
        if env != "base":
            expected[env] = reference_resolve([*injected, *base, *deps, *framework])
    actual = resolved(model)
    assert {k: list(v) for k, v in actual.items()} == expected

    for env, requirements in actual.items():
        keys = [canonical(re.split(r"[\[;=<>!~ ]", r, 1)[0]) for r in requirements]
        assert len(keys) == len(set(keys)), f"{env}: a package appears twice: {requirements}"
        # base entries (and the injected and framework ones) reach every environment
        assert set(canonical(re.split(r"[\[;=<>!~ ]", r, 1)[0]) for r in actual["base"]) <= set(keys)
        # an entry of base survives unchanged unless the environment itself mentions the package
        own = {d.canonical for d in by_env.get(env, [])} if env != "base" else set()
        for requirement in actual["base"]:
            if canonical(re.split(r"[\[;=<>!~ ]", requirement, 1)[0]) not in own:
                assert requirement in requirements, (env, requirement)
    assert "leaky" not in " ".join(r for reqs in actual.values() for r in reqs)

    zzebu = model.get("zzebu")
    names = {env.name for env in zzebu.environments}
    assert names == {"base", "codops-gateway", *by_env}
    for item in [*zzebu.endpoints, *zzebu.tasks]:
        assert item.environment in names


@fuzz_settings(150)
@given(valid_repo(allow_framework=False), st.randoms(use_true_random=False))
def test_resolution_is_deterministic_and_independent_of_file_order(repo, random) -> None:
    contents, _ = repo
    try:
        first = build_model(contents, SETTINGS)
    except ConfigError as e:
        shuffled = list(contents)
        random.shuffle(shuffled)
        try:
            build_model(shuffled, SETTINGS)
        except ConfigError as again:
            assert str(again) == str(e)
        else:  # pragma: no cover - reported by the assertion
            raise AssertionError("the same files were accepted in another order")
        return
    assert build_model(contents, SETTINGS) == first
    assert build_model(list(reversed(contents)), SETTINGS) == first
    shuffled = list(contents)
    random.shuffle(shuffled)
    assert build_model(shuffled, SETTINGS) == first
