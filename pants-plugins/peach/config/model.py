"""The peach config model: names and limits, the parsed form of one file, the merged model.

No Pants imports. Every value is frozen (dataclasses and tuples), so the Pants rules can cache and
compare them.
"""
from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Optional, Tuple

from peach.config.requirements import Provenance, Req, Resolved
from peach.config.typed import Source, TextEnum

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

# The config file names, defined here only: a directory's `peach.yaml`, or the `.yaml`/`.yml` files
# of its `peach.conf/`.
CONFIG_FILE = "peach.yaml"
CONFIG_DIR = "peach.conf"
CONFIG_EXTENSIONS = (".yaml", ".yml")
# The config files of one directory, as globs relative to it.
CONFIG_NAMES = (*(f"{CONFIG_DIR}/*{ext}" for ext in CONFIG_EXTENSIONS), CONFIG_FILE)
# Every config file below a directory (the default sources of a `peach_config`).
CONFIG_FILE_GLOBS = tuple(f"**/{name}" for name in CONFIG_NAMES)


def is_config_path(path: str) -> bool:
    directory, name = posixpath.split(path)
    if name == CONFIG_FILE:
        return True
    return posixpath.basename(directory) == CONFIG_DIR and name.endswith(CONFIG_EXTENSIONS)


def config_base_dir(path: str) -> str:
    """The directory notebook paths are relative to: the one holding `peach.conf/` or `peach.yaml`."""
    directory = posixpath.dirname(path)
    if posixpath.basename(directory) == CONFIG_DIR:
        return posixpath.dirname(directory)
    return directory



# ---------------------------------------------------------------------------------------------
# The merged model
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Notebook:
    """A notebook reference: repo-relative `path`, the `method` it must define."""

    path: str
    method: str
    full_notebook: bool
    declared_in: Source  # of the `notebook:` key
    owner: str  # `endpoints.recommend.components.main` or `tasks.reindex`
    method_declared_in: Optional[Source] = None  # of the `method:` key (else that of `notebook:`)


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


class EnvironmentKind(TextEnum):
    """`base`, an environment the configs name, or the CodopsGateway environment."""

    BASE = "base"
    NAMED = "named"
    GATEWAY = "gateway"


@dataclass(frozen=True)
class Environment:
    codops: str
    name: str
    kind: EnvironmentKind
    resolved: Tuple[Resolved, ...]
    source_files: Tuple[str, ...]  # the config files whose content this environment depends on

    @property
    def requirements(self) -> Tuple[str, ...]:
        return tuple(r.text for r in self.resolved)

    @property
    def provenance(self) -> Tuple[Provenance, ...]:
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
# One file, as read (before merging per codops)
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Dep:
    req: Req
    path: str
    line: int
    key: str


@dataclass(frozen=True)
class EnvDecl:
    name: str
    deps: Tuple[Dep, ...]
    path: str
    line: int


@dataclass(frozen=True)
class PyEnvRef:
    value: Optional[str]  # None: not given (base)
    path: str
    line: int
    key: str


@dataclass(frozen=True)
class EndpointDecl:
    name: str
    url: str
    py_env: PyEnvRef
    components: Tuple[Component, ...]
    path: str
    line: int


@dataclass(frozen=True)
class TaskDecl:
    name: str
    notebook: Notebook
    py_env: PyEnvRef
    path: str
    line: int


@dataclass(frozen=True)
class FileConfig:
    path: str
    codops: str
    envs: Tuple[EnvDecl, ...]
    endpoints: Tuple[EndpointDecl, ...]
    tasks: Tuple[TaskDecl, ...]
    py_env_refs: Tuple[PyEnvRef, ...]
    invalid_envs: Tuple[str, ...] = ()  # declared, but the entry is invalid (and reported)

