"""Reading the configs of a `peach_config`: the settings, and the model its config files and
notebooks make (`PeachModel`), which `generate.py` turns into targets.

Each step is its own memoized rule, so an edit pays only for what it touches: each config file is
parsed by one rule (keyed on its path and content), each codops merged by one (keyed on its files),
each notebook read by one. The model itself is plain Python (`peach.config`).
"""
from __future__ import annotations

import os
import pkgutil
from dataclasses import dataclass
from typing import Iterable, List, Tuple

from pants.base.build_root import BuildRoot
from pants.engine.fs import Digest, DigestContents, PathGlobs
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import HydratedSources, HydrateSourcesRequest
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel

from peach.config import (
    Codops,
    CodopsInput,
    ConfigError,
    Model,
    NotebookCells,
    ParsedFile,
    Problem,
    Settings,
    check_notebooks,
    group,
    make_settings,
    merge_one,
    parse_file,
    read_notebook,
)
from peach.config.decorators import DecoratedFunction, check_decorators, decorated_of, find_decorated
from peach.subsystem import BUILTIN_FRAMEWORK_STACK, PeachSubsystem
from peach.target_types import PeachConfigSourcesField


@dataclass(frozen=True)
class PeachSettings:
    settings: Settings


@rule(desc="Read the peach settings", level=LogLevel.DEBUG)
async def peach_settings(peach: PeachSubsystem) -> PeachSettings:
    if peach.framework_stack:
        found = await Get(DigestContents, PathGlobs([peach.framework_stack]))
        path, content = peach.framework_stack, (found[0].content if found else None)
    else:
        path, content = BUILTIN_FRAMEWORK_STACK, pkgutil.get_data("peach", "framework-stack.txt")
    return PeachSettings(make_settings(
        peach.injected_requirements,
        path,
        content,
        peach.private_packages,
        peach.gateway_environment,
    ))


@dataclass(frozen=True)
class ConfigFile:
    path: str
    content: bytes


@rule(desc="Parse a peach config file", level=LogLevel.TRACE)
def parse_config_file(config: ConfigFile) -> ParsedFile:
    return parse_file(config.path, config.content)


@dataclass(frozen=True)
class MergedCodops:
    codops: Codops
    problems: Tuple[Problem, ...]


@rule(desc="Merge the configs of a codops", level=LogLevel.TRACE)
def merge_codops(request: CodopsInput, settings: PeachSettings) -> MergedCodops:
    codops, problems = merge_one(request, settings.settings)
    return MergedCodops(codops, problems)


@dataclass(frozen=True)
class NotebookFile:
    path: str
    content: bytes


@rule(desc="Read a notebook", level=LogLevel.TRACE)
def read_notebook_file(notebook: NotebookFile) -> NotebookCells:
    return read_notebook(notebook.path, notebook.content)


@dataclass(frozen=True)
class NotebookDecorators:
    functions: Tuple[DecoratedFunction, ...]


@rule(desc="Find the peach decorators of a notebook", level=LogLevel.TRACE)
def notebook_decorators(cells: NotebookCells) -> NotebookDecorators:
    return NotebookDecorators(find_decorated(cells))


@dataclass(frozen=True)
class PeachModelRequest:
    """The config files of one `peach_config`, and the repository root (to check notebook links)."""

    files: Digest


@dataclass(frozen=True)
class PeachModel:
    model: Model
    config_files: Tuple[str, ...]
    # Per codops, the functions its notebooks decorate with the peach decorator.
    decorated: FrozenDict[str, Tuple[DecoratedFunction, ...]]


@rule(desc="Read the peach configs", level=LogLevel.DEBUG)
async def peach_model(request: PeachModelRequest, buildroot: BuildRoot) -> PeachModel:
    contents = await Get(DigestContents, Digest, request.files)
    parsed = await MultiGet(Get(ParsedFile, ConfigFile(fc.path, fc.content)) for fc in contents)
    problems, inputs = group(parsed)
    merged = await MultiGet(Get(MergedCodops, CodopsInput, codops) for codops in inputs)
    every = [*problems, *(p for m in merged for p in m.problems)]
    model = Model(tuple(m.codops for m in merged))
    escaping = escaping_paths(buildroot.path, model.notebook_paths)
    notebook_contents = await Get(DigestContents, PathGlobs([p for p in model.notebook_paths if p not in escaping]))
    notebooks = await MultiGet(Get(NotebookCells, NotebookFile(fc.path, fc.content)) for fc in notebook_contents)
    decorators = await MultiGet(Get(NotebookDecorators, NotebookCells, nb) for nb in notebooks)
    found = {nb.path: d.functions for nb, d in zip(notebooks, decorators)}
    # Every problem in one run: the notebooks' (a `method` no cell defines) are checked even when the
    # configs have problems of their own (an unknown `py_env`); the decorators only on valid configs,
    # since they are compared with the environments, which such problems leave unknown.
    problems: List[Problem] = list(every)
    try:
        check_notebooks(model, {nb.path: nb for nb in notebooks}, escaping)
    except ConfigError as e:
        problems.extend(e.problems)
    if not every:
        for codops in model.codops:
            problems.extend(check_decorators(codops, found))
    if problems:
        raise ConfigError(problems)
    decorated = FrozenDict({c.name: decorated_of(c, found) for c in model.codops})
    return PeachModel(model, tuple(fc.path for fc in contents), decorated)


@dataclass(frozen=True)
class PeachConfigModelRequest:
    """The model of one `peach_config`, from its `sources` field.

    Its own rule, so that an edit that leaves the model as it was (a comment, a notebook cell that
    defines the same methods) ends here: the engine sees an equal `PeachModel` and does not run the
    target generation again.
    """

    sources: PeachConfigSourcesField


@rule(desc="Read the configs of a peach_config", level=LogLevel.DEBUG)
async def peach_config_model(request: PeachConfigModelRequest) -> PeachModel:
    sources = await Get(HydratedSources, HydrateSourcesRequest(request.sources))
    return await Get(PeachModel, PeachModelRequest(sources.snapshot.digest))


def escaping_paths(buildroot: str, paths: Iterable[str]) -> List[str]:
    """Paths that resolve (through symbolic links) to somewhere outside the build root."""
    root = os.path.realpath(buildroot)
    return [p for p in paths if os.path.commonpath([root, os.path.realpath(os.path.join(root, p))]) != root]


def rules():
    return collect_rules()
