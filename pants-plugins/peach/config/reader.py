"""Reading one peach config file: YAML in, a validated `FileConfig` (or located problems) out.

Implements the per-file rules of `docs/configuration.md` §1-§6; merging per codops is `merge.py`.
No Pants imports.
"""
from __future__ import annotations

import keyword
import posixpath
import re
from dataclasses import replace
from typing import Callable, List, Optional, Tuple

from peach.config.checks import ValueChecks
from peach.config.errors import ProblemCollector, shorten
from peach.config.fixes import block_fix, entry_fix, top_level_fix
from peach.config.model import (
    CODOPS_RE,
    COMPONENT_KEYS,
    ENDPOINT_KEYS,
    ENVIRONMENT_KEYS,
    REMOVED_FIX,
    REMOVED_KEY,
    TASK_KEYS,
    TOP_KEYS,
    VALID_CODOPS,
    Component,
    Dep,
    EndpointDecl,
    EnvDecl,
    FileConfig,
    Notebook,
    PyEnvRef,
    TaskDecl,
    config_base_dir,
)
from peach.config.requirements import (
    VALID_REQUIREMENT,
    RequirementSyntaxError,
    parse_requirement,
)
from peach.config.typed import Source
from peach.config.yamlload import (
    YamlLoadError,
    YMap,
    YNode,
    YScalar,
    YSeq,
    load_yaml,
    type_name,
)


class FileReader(ValueChecks):
    """Validates one parsed YAML file; every problem goes to `problems`."""

    def __init__(self, path: str, problems: ProblemCollector) -> None:
        super().__init__(path, problems)
        self.base_dir = config_base_dir(path)
        self.py_env_refs: List[PyEnvRef] = []
        self.invalid_envs: List[str] = []

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

    def read(self, root: Optional[YNode]) -> Optional[FileConfig]:
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
        self.removed_dependencies(root, "", top_level_fix)

        codops = self.read_codops(root)
        envs = self.read_environments(root.get("py_environments"))
        endpoints = self.read_block(root.get("endpoints"), "endpoints", self.read_endpoint)
        tasks = self.read_block(root.get("tasks"), "tasks", self.read_task)
        if codops is None:
            return None
        return FileConfig(self.path, codops, envs, endpoints, tasks, tuple(self.py_env_refs), tuple(self.invalid_envs))

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

    def read_environments(self, node: Optional[YNode]) -> Tuple[EnvDecl, ...]:
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
            envs.append(EnvDecl(name, self.read_dependencies(deps_node, f"{key}.dependencies"), self.path, key_node.line))
        return tuple(envs)

    def read_dependencies(self, node: YNode, key: str) -> Tuple[Dep, ...]:
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
                deps.append(Dep(parse_requirement(item.value), self.path, item.line, item_key))
            except RequirementSyntaxError as e:
                what = f"`{shorten(item.value)}`: {e.what}" if item.value.strip() else e.what
                self.problem(item, item_key, what, VALID_REQUIREMENT, e.fix)
        return tuple(deps)

    def read_py_env(self, mapping: YMap, key: str) -> PyEnvRef:
        node = mapping.get("py_env")
        if node is None:
            return PyEnvRef(None, self.path, mapping.line, f"{key}.py_env")
        value = self.string(node, f"{key}.py_env", "the name of an environment under `py_environments`, or `base`")
        ref = PyEnvRef(value if value is not None else "", self.path, node.line, f"{key}.py_env")
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
        return Notebook(path, method, full_value, Source(self.path, nb_node.line), key,
                        Source(self.path, method_node.line))

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

    def read_components(self, ep: YMap, key: str, py_env: Optional[str]) -> Optional[Tuple[Component, ...]]:
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
            endpoint = key.split(".", 1)[1]
            self.removed_dependencies(comp, ckey, lambda deps: entry_fix("endpoint", endpoint, deps, py_env, endpoint))
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

    # -- endpoints and tasks --------------------------------------------------------------

    def read_block(self, node: Optional[YNode], block: str, read_entry: Callable[[str, str, YMap, int], object]) -> tuple:
        """`endpoints:` or `tasks:`: a mapping of names to entries, each read by `read_entry`."""
        if node is None:
            return ()
        kind = block[:-1]
        mapping = self.expect_map(node, block, f"a mapping of {kind} names to {block}")
        if mapping is None:
            return ()
        self.removed_dependencies(mapping, block, lambda deps: block_fix(block, deps))
        entries = []
        for key_node, value in mapping.items():
            if key_node.value == REMOVED_KEY:
                continue
            name = self.name_key(key_node, block, kind)
            if name is None:
                continue
            key = f"{block}.{name}"
            entry = self.expect_map(value, key, _ENTRY_SHAPE[kind])
            if entry is None:
                continue
            self.unknown_keys(entry, key, _ENTRY_KEYS[kind], strict=False, also={REMOVED_KEY: REMOVED_FIX})
            py_env = _literal(entry.get("py_env"))
            self.removed_dependencies(entry, key, lambda deps: entry_fix(kind, name, deps, py_env))
            decl = read_entry(name, key, entry, key_node.line)
            if decl is not None:
                entries.append(decl)
        return tuple(entries)

    def read_endpoint(self, name: str, key: str, ep: YMap, line: int) -> Optional[EndpointDecl]:
        url = None
        if ep.get("url") is None:
            if not self.misspelled(ep, "url"):
                self.problem(ep, f"{key}.url", "is missing", "the endpoint's path, such as `/recommend`",
                             f"add `url: /{name}` under `{key}`")
        else:
            url = self.string(ep.get("url"), f"{key}.url", "the endpoint's path, such as `/recommend`")
        py_env = self.read_py_env(ep, key)
        components = self.read_components(ep, key, py_env.value)
        if url is None or components is None:
            return None
        return EndpointDecl(name, url, py_env, components, self.path, line)

    def read_task(self, name: str, key: str, task: YMap, line: int) -> Optional[TaskDecl]:
        py_env = self.read_py_env(task, key)
        notebook = self.read_notebook(task, key)
        return TaskDecl(name, notebook, py_env, self.path, line) if notebook is not None else None


_ENTRY_SHAPE = {
    "endpoint": "a mapping with `url`, `components` and optional `py_env`",
    "task": "a mapping with `notebook`, `method`, optional `full_notebook` and `py_env`",
}
_ENTRY_KEYS = {"endpoint": ENDPOINT_KEYS, "task": TASK_KEYS}


def _literal(node: Optional[YNode]) -> Optional[str]:
    return node.value if isinstance(node, YScalar) and isinstance(node.value, str) else None


def read_config_file(path: str, content: bytes, problems: ProblemCollector) -> Optional[FileConfig]:
    """One config file, validated; its problems go to `problems`. None when it cannot be read at all."""
    try:
        root = load_yaml(path, content)
    except YamlLoadError as e:
        problems.add(replace(e.problem, first=True))
        return None
    return FileReader(path, problems).read(root)
