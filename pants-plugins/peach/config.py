"""The peach config model: read, validate, merge per codops and resolve every environment.

Implements `python_environments.md` and `semantics.md` (§1-§6). No Pants imports: the Pants rules
hand file contents in and get frozen values (or one `ConfigError` listing every problem) out.
"""
from __future__ import annotations

import fnmatch
import json
import keyword
import posixpath
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from peach.errors import ConfigError, Problem, ProblemCollector, did_you_mean, quote_list, shorten
from peach.requirements import (
    VALID_REQUIREMENT,
    Entry,
    Req,
    RequirementSyntaxError,
    Resolved,
    Tier,
    canonical_name,
    parse_requirement,
    resolve,
)
from peach.yamlload import YamlLoadError, YMap, YNode, YScalar, YSeq, load_yaml, type_name

BASE = "base"
DEFAULT_GATEWAY_ENVIRONMENT = "codops-gateway"

CODOPS_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")

VALID_CODOPS = "a short lowercase code of letters, digits, `_` or `-`, such as `zzebu` or `chrts`"
VALID_NAME = (
    "letters, digits, `_`, `.` and `-`, starting with a letter or digit (at most 100 characters), "
    "such as `ml` or `ranking-v2`"
)

TOP_KEYS = ("codops", "py_environments", "endpoints", "tasks")
ENDPOINT_KEYS = ("url", "components", "py_env")
COMPONENT_KEYS = ("notebook", "method", "full_notebook")
TASK_KEYS = ("notebook", "method", "full_notebook", "py_env")
ENVIRONMENT_KEYS = ("dependencies",)
REMOVED_KEY = "dependencies"
REMOVED_FIX = (
    "there is no `dependencies` key here any more (it was removed): declare the list under "
    "`py_environments.<env>.dependencies` and select the environment with `py_env`"
)

CONFIG_FILE_GLOBS = ("**/peach.conf/*.yaml", "**/peach.conf/*.yml", "**/peach.yaml")


def is_config_path(path: str) -> bool:
    directory, name = posixpath.split(path)
    if name == "peach.yaml":
        return True
    return posixpath.basename(directory) == "peach.conf" and name.endswith((".yaml", ".yml"))


def config_base_dir(path: str) -> str:
    """The directory notebook paths are relative to: the one holding `peach.conf/` or `peach.yaml`."""
    directory = posixpath.dirname(path)
    if posixpath.basename(directory) == "peach.conf":
        return posixpath.dirname(directory)
    return directory


# ---------------------------------------------------------------------------------------------
# Settings (from the [peach] options)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """What the platform adds to every environment; comes from the `[peach]` options."""

    injected: Tuple[Entry, ...] = ()
    framework: Tuple[Entry, ...] = ()
    private_packages: Tuple[str, ...] = ("pipe-algorithms-lib",)
    gateway_environment: str = DEFAULT_GATEWAY_ENVIRONMENT

    @property
    def framework_keys(self) -> Dict[str, Entry]:
        return {entry.req.key: entry for entry in self.framework}

    def is_private(self, name: str) -> bool:
        key = canonical_name(name)
        return any(fnmatch.fnmatchcase(key, canonical_pattern(p)) for p in self.private_packages)


def canonical_pattern(pattern: str) -> str:
    return re.sub(r"[-_.]+", "-", pattern).lower()


def parse_option_requirements(option: str, values: Sequence[str]) -> Tuple[Entry, ...]:
    """Requirements given in an option; a bad one is a ConfigError naming the option."""
    entries, problems = [], []
    for value in values:
        try:
            entries.append(Entry(parse_requirement(value), Tier.INJECTED, option))
        except RequirementSyntaxError as e:
            problems.append(Problem(option, 0, "", f"`{shorten(value)}`: {e.what}", VALID_REQUIREMENT, e.fix))
    if problems:
        raise ConfigError(problems)
    return tuple(entries)


def make_settings(
    injected: Sequence[str],
    framework_path: str,
    framework_content: Optional[bytes],
    private_packages: Sequence[str],
    gateway_environment: str,
) -> Settings:
    """Settings from the `[peach]` option values; a bad value is a ConfigError naming the option."""
    if framework_content is None:
        raise ConfigError([Problem("[peach].framework_stack", 0, "",
                                   f"the framework stack file `{framework_path}` does not exist",
                                   "a requirements file, relative to the build root",
                                   "create the file, or point `[peach].framework_stack` at it")])
    if not NAME_RE.match(gateway_environment) or gateway_environment == BASE:
        raise ConfigError([Problem("[peach].gateway_environment", 0, "",
                                   f"`{shorten(gateway_environment, 60)}` is not a valid environment name",
                                   VALID_NAME, "choose another name")])
    return Settings(
        injected=parse_option_requirements("[peach].injected_requirements", injected),
        framework=parse_requirements_file(framework_path, framework_content, Tier.FRAMEWORK),
        private_packages=tuple(private_packages),
        gateway_environment=gateway_environment,
    )


def parse_requirements_file(path: str, content: bytes, tier: str) -> Tuple[Entry, ...]:
    """A requirements file (one requirement a line, `#` comments) such as the framework stack."""
    entries, problems = [], []
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError([Problem(path, 0, "", "the file is not valid UTF-8", fix="save it as UTF-8")])
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.split("#", 1)[0].strip()
        if not stripped:
            continue
        try:
            entries.append(Entry(parse_requirement(stripped), tier, f"{path}:{number}"))
        except RequirementSyntaxError as e:
            problems.append(Problem(path, number, "", f"`{shorten(stripped)}`: {e.what}", VALID_REQUIREMENT, e.fix))
    if problems:
        raise ConfigError(problems)
    return tuple(entries)


# ---------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Notebook:
    """A notebook reference: repo-relative `path`, the `method` it must define."""

    path: str
    method: str
    full_notebook: bool
    declared_in: str  # `file:line` of the `notebook:` key
    owner: str  # `endpoints.recommend.components.main` or `tasks.reindex`


@dataclass(frozen=True)
class Component:
    name: str
    notebook: Notebook


@dataclass(frozen=True)
class Endpoint:
    codops: str
    name: str
    url: str
    environment: str
    components: Tuple[Component, ...]
    source_file: str
    line: int


@dataclass(frozen=True)
class Task:
    codops: str
    name: str
    notebook: Notebook
    environment: str
    source_file: str
    line: int


@dataclass(frozen=True)
class Environment:
    codops: str
    name: str
    kind: str  # "base", "named" or "gateway"
    resolved: Tuple[Resolved, ...]
    source_files: Tuple[str, ...]  # the config files whose content this environment depends on

    @property
    def requirements(self) -> Tuple[str, ...]:
        return tuple(r.text for r in self.resolved)

    @property
    def provenance(self) -> Tuple[str, ...]:
        return tuple(r.provenance() for r in self.resolved)


@dataclass(frozen=True)
class Codops:
    name: str
    source_files: Tuple[str, ...]
    environments: Tuple[Environment, ...]
    endpoints: Tuple[Endpoint, ...]
    tasks: Tuple[Task, ...]

    def environment(self, name: str) -> Environment:
        return next(e for e in self.environments if e.name == name)

    @property
    def notebooks(self) -> Tuple[Notebook, ...]:
        found = [c.notebook for e in self.endpoints for c in e.components]
        found.extend(t.notebook for t in self.tasks)
        return tuple(found)


@dataclass(frozen=True)
class Model:
    codops: Tuple[Codops, ...]

    def get(self, name: str) -> Codops:
        return next(c for c in self.codops if c.name == name)

    @property
    def notebook_paths(self) -> Tuple[str, ...]:
        return tuple(sorted({nb.path for c in self.codops for nb in c.notebooks}))


# ---------------------------------------------------------------------------------------------
# Reading one file
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Dep:
    req: Req
    path: str
    line: int
    key: str


@dataclass(frozen=True)
class _EnvDecl:
    name: str
    deps: Tuple[_Dep, ...]
    path: str
    line: int


@dataclass(frozen=True)
class _PyEnvRef:
    value: Optional[str]  # None: not given (base)
    path: str
    line: int
    key: str


@dataclass(frozen=True)
class _EndpointDecl:
    name: str
    url: str
    py_env: _PyEnvRef
    components: Tuple[Component, ...]
    path: str
    line: int


@dataclass(frozen=True)
class _TaskDecl:
    name: str
    notebook: Notebook
    py_env: _PyEnvRef
    path: str
    line: int


@dataclass(frozen=True)
class _FileConfig:
    path: str
    codops: str
    envs: Tuple[_EnvDecl, ...]
    endpoints: Tuple[_EndpointDecl, ...]
    tasks: Tuple[_TaskDecl, ...]
    py_env_refs: Tuple[_PyEnvRef, ...]
    invalid_envs: Tuple[str, ...] = ()  # declared, but the entry is invalid (and reported)


class _FileReader:
    """Validates one parsed YAML file; every problem goes to `problems`."""

    def __init__(self, path: str, problems: ProblemCollector) -> None:
        self.path = path
        self.base_dir = config_base_dir(path)
        self.problems = problems
        self.py_env_refs: List[_PyEnvRef] = []
        self.invalid_envs: List[str] = []
        # (line, column) of a mapping -> the known keys its unknown keys were reported as near-misses of
        self.near_misses: Dict[Tuple[int, int], set] = defaultdict(set)

    # -- helpers --------------------------------------------------------------------------

    def problem(self, node_or_line, key: str, what: str, valid: str = "", fix: str = "") -> None:
        line = node_or_line if isinstance(node_or_line, int) else node_or_line.line
        self.problems.add(Problem(self.path, line, key, what, valid, fix))

    def expect_map(self, node: YNode, key: str, valid: str) -> Optional[YMap]:
        if isinstance(node, YMap):
            return node
        if isinstance(node, YScalar) and node.value is None:
            return YMap((), node.line, node.column)
        leaf = key.rsplit(".", 1)[-1]
        if isinstance(node, YSeq):
            fix = f"write `name: value` entries indented under `{leaf}:`, without the `- ` list markers"
        else:
            fix = f"put `name: value` entries on their own lines, indented under `{leaf}:`"
        self.problem(node, key, f"must be a mapping, not {type_name(node)}", valid, fix)
        return None

    def string(self, node: YNode, key: str, valid: str, fix: str = "") -> Optional[str]:
        leaf = key.rsplit(".", 1)[-1]
        if isinstance(node, YScalar) and isinstance(node.value, str):
            if node.value.strip():
                return node.value
            self.problem(node, key, "must not be empty", valid, fix or f"write a value after `{leaf}:`")
            return None
        if isinstance(node, YScalar) and node.value is None:
            self.problem(node, key, f"must be a string, not {type_name(node)}", valid,
                         fix or f"write a value after `{leaf}:`")
            return None
        self.problem(node, key, f"must be a string, not {type_name(node)}", valid, fix or "quote the value")
        return None

    def boolean(self, node: YNode, key: str) -> Optional[bool]:
        if isinstance(node, YScalar) and isinstance(node.value, bool):
            return node.value
        self.problem(node, key, f"must be a boolean, not {type_name(node)}", "`true` or `false`",
                     "write `true` or `false` without quotes")
        return None

    def name_key(self, key_node: YScalar, parent: str, what: str) -> Optional[str]:
        value = key_node.value
        if not isinstance(value, str):
            shown = shorten(key_node.text if key_node.text is not None else str(value), 60)  # `null`, not None
            self.problem(key_node, f"{parent}.{shown}", f"the {what} name must be a string, not {type_name(key_node)}",
                         VALID_NAME, f"quote the name: `'{shown}':`")
            return None
        if not NAME_RE.match(value):
            self.problem(key_node, f"{parent}.{shorten(value, 60)}", f"`{shorten(value, 60)}` is not a valid {what} name",
                         VALID_NAME, f"rename the {what}")
            return None
        return value

    def unknown_keys(self, mapping: YMap, key: str, known: Sequence[str], strict: bool,
                     also: Mapping[str, str] = {}) -> None:
        """Near-miss keys are errors with "did you mean"; other unknown keys only when `strict`.

        `also` maps keys handled elsewhere (removed or misplaced ones) to the fix for a near-miss of them.
        """
        for key_node, _ in mapping.items():
            name = key_node.value
            if name in known or name in also:
                continue
            path = f"{key}.{shorten(str(name), 60)}" if key else shorten(str(name), 60)
            if not isinstance(name, str):
                if strict:
                    self.problem(key_node, path, f"unknown key `{name}`", f"the known keys here: {quote_list(known)}",
                                 "remove the key")
                continue
            guess = did_you_mean(name, [*known, *also])
            if guess is not None:
                self.near_misses[(mapping.line, mapping.column)].add(guess)
                fix = also.get(guess) or f"rename `{shorten(name, 60)}` to `{guess}`"
                self.problem(key_node, path, f"unknown key `{shorten(name, 60)}`; did you mean `{guess}`?",
                             f"the known keys here: {quote_list(known)}", fix)
            elif strict:
                self.problem(key_node, path, f"unknown key `{shorten(name, 60)}`", f"the known keys here: {quote_list(known)}",
                             "remove the key")

    def misspelled(self, mapping: YMap, key: str) -> bool:
        """Whether an unknown key of `mapping` was reported as a near-miss of `key` (so `key` is not "missing")."""
        return key in self.near_misses.get((mapping.line, mapping.column), ())

    def removed_dependencies(self, mapping: YMap, key: str, fix: Callable[[List[str]], str]) -> None:
        key_node = mapping.key_node(REMOVED_KEY)
        if key_node is None:
            return
        value = mapping.get(REMOVED_KEY)
        deps = [str(i.value) for i in value.items if isinstance(i, YScalar)] if isinstance(value, YSeq) else []
        path = f"{key}.{REMOVED_KEY}" if key else REMOVED_KEY
        self.problem(
            key_node,
            path,
            "the `dependencies` key was removed: dependencies are declared only under "
            "`py_environments`, and endpoints and tasks pick an environment with `py_env`",
            "`py_environments.<env>.dependencies`",
            fix(deps),
        )

    # -- the file -------------------------------------------------------------------------

    def read(self, root: Optional[YNode]) -> Optional[_FileConfig]:
        if root is None:
            self.problem(0, "", "the file is empty", "a mapping with at least `codops: <code>`",
                         "add `codops: <your codops>` at the top of the file, or delete the file")
            return None
        if not isinstance(root, YMap):
            self.problem(root, "", f"the top level must be a mapping, not {type_name(root)}",
                         "a mapping with `codops`, `py_environments`, `endpoints` and `tasks`",
                         "start the file with `codops: <your codops>`")
            return None
        self.unknown_keys(root, "", TOP_KEYS, strict=False, also={REMOVED_KEY: REMOVED_FIX})
        self.removed_dependencies(root, "", _top_level_fix)

        codops = self.read_codops(root)
        envs = self.read_environments(root.get("py_environments"))
        endpoints = self.read_endpoints(root.get("endpoints"))
        tasks = self.read_tasks(root.get("tasks"))
        if codops is None:
            return None
        return _FileConfig(self.path, codops, envs, endpoints, tasks, tuple(self.py_env_refs), tuple(self.invalid_envs))

    def read_codops(self, root: YMap) -> Optional[str]:
        node = root.get("codops")
        if node is None:
            self.problem(root, "codops", "is missing: every peach config names its codops", VALID_CODOPS,
                         "add `codops: <your codops>` at the top of the file")
            return None
        value = self.string(node, "codops", VALID_CODOPS)
        if value is None:
            return None
        if not CODOPS_RE.match(value):
            fix = "write the codops in lowercase" if CODOPS_RE.match(value.lower()) else "use the codops' short code"
            self.problem(node, "codops", f"`{shorten(value, 60)}` is not a valid codops", VALID_CODOPS, fix)
            return None
        return value

    def read_environments(self, node: Optional[YNode]) -> Tuple[_EnvDecl, ...]:
        if node is None:
            return ()
        mapping = self.expect_map(node, "py_environments", "a mapping of environment names to `{dependencies: [...]}`")
        if mapping is None:
            return ()
        envs = []
        for key_node, value in mapping.items():
            name = self.name_key(key_node, "py_environments", "environment")
            if name is None:
                continue
            key = f"py_environments.{name}"
            env_map = self.expect_map(value, key, "a mapping with one key, `dependencies`, holding a list of strings")
            if env_map is None:
                self.invalid_envs.append(name)
                continue
            self.unknown_keys(env_map, key, ENVIRONMENT_KEYS, strict=True)
            deps_node = env_map.get("dependencies")
            if deps_node is None and env_map.entries:
                self.invalid_envs.append(name)
                continue  # the unknown key (a typo of `dependencies`?) is reported already
            if deps_node is None:
                self.problem(env_map if env_map.entries else key_node, f"{key}.dependencies", "is missing",
                             "a list of requirement strings (it may be empty: `dependencies: []`)",
                             f"add `dependencies:` under `{key}`")
                self.invalid_envs.append(name)
                continue
            envs.append(_EnvDecl(name, self.read_dependencies(deps_node, f"{key}.dependencies"), self.path, key_node.line))
        return tuple(envs)

    def read_dependencies(self, node: YNode, key: str) -> Tuple[_Dep, ...]:
        if isinstance(node, YScalar) and node.value is None:
            return ()
        if not isinstance(node, YSeq):
            shown = shorten(node.text if node.text is not None else str(node.value), 60) if isinstance(node, YScalar) else ""
            fix = f"write it as a list: `dependencies: [{shown}]`" if isinstance(node, YScalar) else "write a list of strings"
            self.problem(node, key, f"must be a list of requirement strings, not {type_name(node)}", VALID_REQUIREMENT, fix)
            return ()
        deps = []
        for index, item in enumerate(node.items):
            item_key = f"{key}[{index}]"
            if not (isinstance(item, YScalar) and isinstance(item.value, str)):
                if isinstance(item, YScalar) and item.value is not None:
                    fix = f"quote it: `'{shorten(item.text if item.text is not None else str(item.value), 60)}'`"
                elif isinstance(item, YScalar):
                    fix = "write a requirement string after the `-`, or delete the empty entry"
                else:
                    fix = "write a requirement string"
                self.problem(item, item_key, f"must be a requirement string, not {type_name(item)}", VALID_REQUIREMENT, fix)
                continue
            try:
                deps.append(_Dep(parse_requirement(item.value), self.path, item.line, item_key))
            except RequirementSyntaxError as e:
                what = f"`{shorten(item.value)}`: {e.what}" if item.value.strip() else e.what
                self.problem(item, item_key, what, VALID_REQUIREMENT, e.fix)
        return tuple(deps)

    def read_py_env(self, mapping: YMap, key: str) -> _PyEnvRef:
        node = mapping.get("py_env")
        if node is None:
            return _PyEnvRef(None, self.path, mapping.line, f"{key}.py_env")
        value = self.string(node, f"{key}.py_env", "the name of an environment under `py_environments`, or `base`")
        ref = _PyEnvRef(value if value is not None else "", self.path, node.line, f"{key}.py_env")
        self.py_env_refs.append(ref)
        return ref

    def read_notebook(self, mapping: YMap, key: str) -> Optional[Notebook]:
        full = mapping.get("full_notebook")
        full_value = bool(self.boolean(full, f"{key}.full_notebook")) if full is not None else False
        nb_node, method_node = mapping.get("notebook"), mapping.get("method")
        path = method = None
        if nb_node is None:
            if not self.misspelled(mapping, "notebook"):  # else the near-miss is reported already
                self.problem(mapping, f"{key}.notebook", "is missing",
                             "a path to an `.ipynb` file, relative to the directory holding `peach.conf/`",
                             f"add `notebook: <file>.ipynb` under `{key}`")
        else:
            nb = self.string(nb_node, f"{key}.notebook",
                             "a path to an `.ipynb` file, relative to the directory holding `peach.conf/`")
            path = self.notebook_path(nb, nb_node, f"{key}.notebook") if nb is not None else None
        if method_node is None:
            if not self.misspelled(mapping, "method"):
                self.problem(mapping, f"{key}.method", "is missing", "the name of a function defined in the notebook",
                             f"add `method: <function>` under `{key}`")
        else:
            method = self.string(method_node, f"{key}.method", "the name of a function defined in the notebook")
            if method is not None and (not method.isidentifier() or keyword.iskeyword(method)):
                self.problem(method_node, f"{key}.method", f"`{shorten(method, 60)}` is not a Python function name",
                             "a Python identifier such as `recommend`", "write the name of the function, without `()`")
                method = None
        if path is None or method is None:
            return None
        return Notebook(path, method, full_value, f"{self.path}:{nb_node.line}", key)

    def notebook_path(self, value: str, node: YNode, key: str) -> Optional[str]:
        valid = "a relative path to an `.ipynb` file inside the repository"
        if value.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", value) or value.startswith("~"):
            self.problem(node, key, f"`{shorten(value, 60)}` is an absolute path", valid,
                         "write the path relative to the directory that holds `peach.conf/`")
            return None
        if "\\" in value:
            self.problem(node, key, f"`{shorten(value, 60)}` uses backslashes", valid, "use `/` between directories")
            return None
        if re.search(r"[\x00-\x1f\x7f-\x9f]", value):
            self.problem(node, key, f"`{shorten(value, 60)}` contains a control character", valid,
                         "delete the character from the path")
            return None
        if re.search(r"[*?\[\]]", value) or value.startswith("!"):
            self.problem(node, key, f"`{shorten(value, 60)}` is a glob pattern: a notebook is one file", valid,
                         "write the path of the one `.ipynb` file, without `*`, `?`, `[`, `]` or a leading `!`")
            return None
        joined = posixpath.normpath(posixpath.join(self.base_dir, value)) if self.base_dir else posixpath.normpath(value)
        if joined == ".." or joined.startswith("../") or joined == ".":
            self.problem(node, key, f"`{shorten(value, 60)}` points outside the repository", valid,
                         "keep notebooks inside the repository, next to the config")
            return None
        if not joined.endswith(".ipynb"):
            self.problem(node, key, f"`{shorten(value, 60)}` is not a notebook (`.ipynb`) file", valid,
                         "point `notebook` at the `.ipynb` file")
            return None
        return joined

    def read_endpoints(self, node: Optional[YNode]) -> Tuple[_EndpointDecl, ...]:
        if node is None:
            return ()
        mapping = self.expect_map(node, "endpoints", "a mapping of endpoint names to endpoints")
        if mapping is None:
            return ()
        self.removed_dependencies(mapping, "endpoints", _block_fix("endpoints"))
        endpoints = []
        for key_node, value in mapping.items():
            if key_node.value == REMOVED_KEY:
                continue
            name = self.name_key(key_node, "endpoints", "endpoint")
            if name is None:
                continue
            key = f"endpoints.{name}"
            ep = self.expect_map(value, key, "a mapping with `url`, `components` and optional `py_env`")
            if ep is None:
                continue
            self.unknown_keys(ep, key, ENDPOINT_KEYS, strict=False, also={REMOVED_KEY: REMOVED_FIX})
            self.removed_dependencies(ep, key, _entry_fix("endpoint", name))
            url = None
            if ep.get("url") is None:
                if not self.misspelled(ep, "url"):
                    self.problem(ep, f"{key}.url", "is missing", "the endpoint's path, such as `/recommend`",
                                 f"add `url: /{name}` under `{key}`")
            else:
                url = self.string(ep.get("url"), f"{key}.url", "the endpoint's path, such as `/recommend`")
            py_env = self.read_py_env(ep, key)
            components = self.read_components(ep, key)
            if url is not None and components is not None:
                endpoints.append(_EndpointDecl(name, url, py_env, components, self.path, key_node.line))
        return tuple(endpoints)

    def read_components(self, ep: YMap, key: str) -> Optional[Tuple[Component, ...]]:
        node = ep.get("components")
        valid = "a mapping of component names (usually `main`) to `{notebook, method}`"
        if node is None:
            if self.misspelled(ep, "components"):
                return None
            self.problem(ep, f"{key}.components", "is missing", valid,
                         f"add `components: {{main: {{notebook: <file>.ipynb, method: <function>}}}}` under `{key}`")
            return None
        mapping = self.expect_map(node, f"{key}.components", valid)
        if mapping is None:
            return None
        if not mapping.entries:
            self.problem(mapping, f"{key}.components", "is empty: an endpoint needs at least one component", valid,
                         "add a `main` component")
            return None
        components, ok = [], True
        for key_node, value in mapping.items():
            name = self.name_key(key_node, f"{key}.components", "component")
            if name is None:
                ok = False
                continue
            ckey = f"{key}.components.{name}"
            comp = self.expect_map(value, ckey, "a mapping with `notebook`, `method` and optional `full_notebook`")
            if comp is None:
                ok = False
                continue
            self.unknown_keys(comp, ckey, COMPONENT_KEYS, strict=False,
                              also={REMOVED_KEY: REMOVED_FIX,
                                    "py_env": f"write `py_env` on the endpoint `{key}`, not on the component"})
            self.removed_dependencies(comp, ckey, _component_fix(key.split(".", 1)[1]))
            py_env = comp.key_node("py_env")
            if py_env is not None:
                value_text = comp.get("py_env")
                shown = shorten(str(value_text.value), 60) if isinstance(value_text, YScalar) and value_text.value else "<env>"
                self.problem(py_env, f"{ckey}.py_env",
                             "`py_env` is not allowed on a component: an endpoint runs in one environment",
                             f"`py_env` on the endpoint (`{key}.py_env`)",
                             f"move `py_env: {shown}` up to the endpoint `{key}`")
            notebook = self.read_notebook(comp, ckey)
            if notebook is None:
                ok = False
                continue
            components.append(Component(name, notebook))
        return tuple(components) if ok else None

    def read_tasks(self, node: Optional[YNode]) -> Tuple[_TaskDecl, ...]:
        if node is None:
            return ()
        mapping = self.expect_map(node, "tasks", "a mapping of task names to tasks")
        if mapping is None:
            return ()
        self.removed_dependencies(mapping, "tasks", _block_fix("tasks"))
        tasks = []
        for key_node, value in mapping.items():
            if key_node.value == REMOVED_KEY:
                continue
            name = self.name_key(key_node, "tasks", "task")
            if name is None:
                continue
            key = f"tasks.{name}"
            task = self.expect_map(value, key, "a mapping with `notebook`, `method`, optional `full_notebook` and `py_env`")
            if task is None:
                continue
            self.unknown_keys(task, key, TASK_KEYS, strict=False, also={REMOVED_KEY: REMOVED_FIX})
            self.removed_dependencies(task, key, _entry_fix("task", name))
            py_env = self.read_py_env(task, key)
            notebook = self.read_notebook(task, key)
            if notebook is not None:
                tasks.append(_TaskDecl(name, notebook, py_env, self.path, key_node.line))
        return tuple(tasks)


def _yaml_list(deps: Sequence[str]) -> str:
    return "[" + shorten(", ".join(deps), 200) + "]" if deps else "[...]"


def _top_level_fix(deps: List[str]) -> str:
    return f"move the list to the `base` environment, which every endpoint and task inherits: " \
           f"`py_environments: {{base: {{dependencies: {_yaml_list(deps)}}}}}`"


def _block_fix(block: str) -> Callable[[List[str]], str]:
    def fix(deps: List[str]) -> str:
        return (f"move the list to an environment, `py_environments: {{base: {{dependencies: {_yaml_list(deps)}}}}}` "
                f"for all {block}, or a named one selected with `py_env: <name>` on each of them")
    return fix


def _entry_fix(kind: str, name: str) -> Callable[[List[str]], str]:
    env = name if NAME_RE.match(name) and name != BASE else f"{kind}-env"

    def fix(deps: List[str]) -> str:
        return (f"declare `py_environments: {{{env}: {{dependencies: {_yaml_list(deps)}}}}}` and set "
                f"`py_env: {env}` on the {kind}")
    return fix


def _component_fix(endpoint: str) -> Callable[[List[str]], str]:
    env = endpoint if NAME_RE.match(endpoint) and endpoint != BASE else "endpoint-env"

    def fix(deps: List[str]) -> str:
        return (f"declare `py_environments: {{{env}: {{dependencies: {_yaml_list(deps)}}}}}` and set "
                f"`py_env: {env}` on the endpoint `{endpoint}` (all its components run in it)")
    return fix


def read_config_file(path: str, content: bytes, problems: ProblemCollector) -> Optional[_FileConfig]:
    try:
        root = load_yaml(path, content)
    except YamlLoadError as e:
        problems.add(e.problem)
        return None
    return _FileReader(path, problems).read(root)


# ---------------------------------------------------------------------------------------------
# Merging per codops and resolving
# ---------------------------------------------------------------------------------------------


def build_model(files: Iterable[Tuple[str, bytes]], settings: Settings) -> Model:
    """Read every config file, merge per codops and resolve each environment (§1-§5)."""
    problems = ProblemCollector()
    parsed = []
    for path, content in sorted(files, key=lambda f: f[0]):
        config = read_config_file(path, content, problems)
        if config is not None:
            parsed.append(config)
    by_codops: Dict[str, List[_FileConfig]] = defaultdict(list)
    for config in parsed:
        by_codops[config.codops].append(config)
    codops = tuple(_merge_codops(name, by_codops[name], settings, problems) for name in sorted(by_codops))
    problems.raise_if_any()
    return Model(codops)


def _merge_codops(name: str, files: List[_FileConfig], settings: Settings, problems: ProblemCollector) -> Codops:
    env_decls: Dict[str, List[_EnvDecl]] = {}
    for config in files:
        for decl in config.envs:
            env_decls.setdefault(decl.name, []).append(decl)

    framework = settings.framework_keys
    for env_name, decls in env_decls.items():
        first = decls[0]
        if env_name == settings.gateway_environment:
            problems.add(Problem(first.path, first.line, f"py_environments.{env_name}",
                                 f"`{env_name}` is reserved for the internal CodopsGateway environment",
                                 "any other environment name", "rename the environment"))
        folded = [other for other in env_decls if other != env_name and other.lower() == env_name.lower()]
        if folded and env_name > folded[0]:
            problems.add(Problem(first.path, first.line, f"py_environments.{env_name}",
                                 f"`{env_name}` differs from the environment `{folded[0]}` only in letter case; "
                                 "their project directories would collide on some file systems",
                                 VALID_NAME, f"use one spelling, `{folded[0]}`"))
        deps = [d for decl in decls for d in decl.deps]
        for dep in deps:
            if dep.req.key in framework:
                stack = framework[dep.req.key]
                problems.add(Problem(dep.path, dep.line, dep.key,
                                     f"`{dep.req.name}` belongs to the framework stack, which is pinned into every "
                                     f"environment to stay in sync with the serving image (`{stack.req.text}`, "
                                     f"{stack.source})",
                                     "packages outside the framework stack",
                                     "remove the entry: the framework stack already provides it"))
        _check_tier_conflicts(deps, problems)

    declared = sorted(env_decls)
    all_names = sorted({BASE, *declared})
    base_deps = [Entry(d.req, Tier.BASE, f"{d.path}:{d.line}") for decl in env_decls.get(BASE, []) for d in decl.deps]
    base_files = tuple(sorted({d.path for d in env_decls.get(BASE, [])}))

    def environment(env_name: str, kind: str) -> Environment:
        own = [] if kind != "named" else [
            Entry(d.req, Tier.ENVIRONMENT, f"{d.path}:{d.line}") for decl in env_decls[env_name] for d in decl.deps
        ]
        own_files = {d.path for d in env_decls.get(env_name, [])} if kind == "named" else set()
        return Environment(
            codops=name,
            name=env_name,
            kind=kind,
            resolved=resolve([*settings.injected, *base_deps, *own, *settings.framework]),
            source_files=tuple(sorted({*base_files, *own_files})),
        )

    environments = [environment(BASE, "base")]
    environments.extend(environment(n, "named") for n in declared if n != BASE)
    environments.append(environment(settings.gateway_environment, "gateway"))

    invalid = {env for config in files for env in config.invalid_envs}
    for config in files:
        for ref in config.py_env_refs:
            if ref.value not in invalid:  # its declaration is invalid, and reported already
                _check_py_env(ref, all_names, name, problems)
    endpoints, tasks = [], []
    seen: Dict[Tuple[str, str], Tuple[str, int]] = {}
    for config in files:
        for ep in config.endpoints:
            if _unique(seen, ("endpoints", ep.name), ep.path, ep.line, problems, name):
                env = ep.py_env.value or BASE
                endpoints.append(Endpoint(name, ep.name, ep.url, env, ep.components, ep.path, ep.line))
        for task in config.tasks:
            if _unique(seen, ("tasks", task.name), task.path, task.line, problems, name):
                env = task.py_env.value or BASE
                tasks.append(Task(name, task.name, task.notebook, env, task.path, task.line))

    return Codops(
        name=name,
        source_files=tuple(config.path for config in files),
        environments=tuple(environments),
        endpoints=tuple(sorted(endpoints, key=lambda e: e.name)),
        tasks=tuple(sorted(tasks, key=lambda t: t.name)),
    )


def _unique(seen, key, path, line, problems, codops) -> bool:
    if key in seen:
        first_path, first_line = seen[key]
        kind = key[0][:-1]
        problems.add(Problem(path, line, f"{key[0]}.{key[1]}",
                             f"the {kind} `{key[1]}` of codops `{codops}` is already declared at {first_path}:{first_line}",
                             f"each {kind} name once per codops", f"rename one of the two {key[0]}, or delete one"))
        return False
    seen[key] = (path, line)
    return True


def _check_py_env(ref: _PyEnvRef, names: Sequence[str], codops: str, problems: ProblemCollector) -> None:
    if ref.value is None or ref.value in names:
        return
    if ref.value:  # "" means the value itself was invalid and is reported already
        guess = did_you_mean(ref.value, names, cutoff=0.6)
        what = f"unknown environment `{shorten(ref.value, 60)}`"
        if guess:
            what += f"; did you mean `{guess}`?"
        problems.add(Problem(ref.path, ref.line, ref.key, what,
                             f"the environments of codops `{codops}`: {quote_list(names)}",
                             f"set `py_env: {guess}`" if guess else
                             f"declare `{shorten(ref.value, 60)}` under `py_environments`, or pick one of those"))


def _check_tier_conflicts(deps: Sequence[_Dep], problems: ProblemCollector) -> None:
    """Within one tier, two different version specifiers for one package are an error (§3)."""
    first: Dict[str, _Dep] = {}
    for dep in deps:
        if dep.req.is_bare:
            continue
        earlier = first.get(dep.req.key)
        if earlier is None:
            first[dep.req.key] = dep
            continue
        if (earlier.req.specifier, earlier.req.marker) != (dep.req.specifier, dep.req.marker):
            problems.add(Problem(dep.path, dep.line, dep.key,
                                 f"`{shorten(dep.req.text, 200)}` conflicts with `{shorten(earlier.req.text, 200)}` "
                                 f"declared for the same environment at {earlier.path}:{earlier.line}",
                                 "one version specifier per package and environment",
                                 "keep one of the two entries"))


# ---------------------------------------------------------------------------------------------
# Notebooks (§6)
# ---------------------------------------------------------------------------------------------


def check_notebooks(model: Model, contents: Mapping[str, bytes], escaping: Iterable[str] = ()) -> None:
    """Every notebook exists and a code cell defines its `method`; raises ConfigError otherwise.

    `escaping`: notebook paths that are symbolic links leading outside the repository.
    """
    problems = ProblemCollector()
    checked: Dict[str, Optional[str]] = {}
    escaping = frozenset(escaping)
    for codops in model.codops:
        for nb in codops.notebooks:
            file, _, line = nb.declared_in.rpartition(":")
            key = f"{nb.owner}.notebook"
            if nb.path in escaping:
                problems.add(Problem(file, int(line), key,
                                     f"`{nb.path}` is a symbolic link that leads outside the repository",
                                     "a notebook file inside the repository",
                                     "copy the notebook into the repository instead of linking to it"))
                continue
            if nb.path not in contents:
                problems.add(Problem(file, int(line), key, f"the notebook `{nb.path}` does not exist",
                                     "a path relative to the directory that holds `peach.conf/` (or `peach.yaml`)",
                                     "fix the path, or add the notebook to the repository"))
                continue
            if nb.path not in checked:
                checked[nb.path] = _notebook_source(contents[nb.path])
            source = checked[nb.path]
            if source is None:
                problems.add(Problem(file, int(line), key, f"`{nb.path}` is not a valid Jupyter notebook (not JSON "
                                     "with a `cells` list)", "an `.ipynb` file saved by Jupyter",
                                     "re-save the notebook from Jupyter"))
                continue
            if not re.search(rf"^(async\s+)?def\s+{re.escape(nb.method)}\s*\(", source, re.MULTILINE):
                defined = sorted(set(re.findall(r"^(?:async\s+)?def\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(", source, re.MULTILINE)))
                guess = did_you_mean(nb.method, defined, cutoff=0.6)
                what = f"no code cell of `{nb.path}` defines `{nb.method}` (a top-level `def {nb.method}(`)"
                if guess:
                    what += f"; did you mean `{guess}`?"
                problems.add(Problem(file, int(line), f"{nb.owner}.method", what,
                                     f"the functions the notebook defines: {quote_list(defined)}",
                                     f"set `method: {guess}`" if guess else f"define `{nb.method}` in the notebook"))
    problems.raise_if_any()


def _notebook_source(content: bytes) -> Optional[str]:
    try:
        data = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        return None
    chunks = []
    for cell in data["cells"]:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(s for s in source if isinstance(s, str))
        if isinstance(source, str):
            chunks.append(source)
    return "\n".join(chunks)
