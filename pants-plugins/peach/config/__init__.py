"""The peach configs: reading, validating and merging them, with no Pants imports.

The rooms: `yamlload` (YAML with lines), `reader` (one file), `merge` (per codops, resolving each
environment with `requirements`), `notebooks`, `settings` (from the `[peach]` options), `model`
(the frozen values), `errors` (located problems), `names` (package names and URLs).
"""
from peach.config.errors import ConfigError, PackagingError, Problem
from peach.config.merge import (
    CodopsInput,
    ParsedFile,
    build_model,
    group,
    merge,
    merge_one,
    parse_file,
)
from peach.config.model import (
    BASE,
    CONFIG_FILE_GLOBS,
    DEFAULT_GATEWAY_ENVIRONMENT,
    Codops,
    Component,
    Endpoint,
    Environment,
    Model,
    Notebook,
    Task,
    config_base_dir,
    is_config_path,
)
from peach.config.notebooks import NotebookCells, check_notebooks, read_notebook
from peach.config.settings import Settings, make_settings, parse_requirements_file

__all__ = [
    "BASE",
    "CONFIG_FILE_GLOBS",
    "DEFAULT_GATEWAY_ENVIRONMENT",
    "Codops",
    "Component",
    "ConfigError",
    "Endpoint",
    "Environment",
    "Model",
    "Notebook",
    "NotebookCells",
    "PackagingError",
    "ParsedFile",
    "Problem",
    "Settings",
    "Task",
    "build_model",
    "check_notebooks",
    "config_base_dir",
    "is_config_path",
    "make_settings",
    "merge",
    "merge_one",
    "group",
    "CodopsInput",
    "parse_file",
    "parse_requirements_file",
    "read_notebook",
]
