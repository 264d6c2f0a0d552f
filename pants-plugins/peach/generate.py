"""From config files to targets: `peach_config` generates the targets of every codops it reads.

Each step is its own memoized rule, so an edit pays only for what it touches: each config file is
parsed by one rule (keyed on its path and content), each codops merged by one (keyed on its files),
each notebook read by one. The model itself is plain Python (`peach.config`).
"""
from __future__ import annotations

import os
import pkgutil
import posixpath
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Optional, Tuple

from pants.base.build_root import BuildRoot
from pants.core.target_types import (
    TargetGeneratorSourcesHelperSourcesField,
    TargetGeneratorSourcesHelperTarget,
)
from pants.engine.addresses import Address
from pants.engine.fs import Digest, DigestContents, PathGlobs
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import (
    Dependencies,
    GeneratedTargets,
    GenerateTargetsRequest,
    HydratedSources,
    HydrateSourcesRequest,
    Tags,
    Target,
)
from pants.engine.unions import UnionMembership, UnionRule
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
from peach.config.ids import EnvironmentId, endpoint_name, task_name
from peach.subsystem import BUILTIN_FRAMEWORK_STACK, PeachSubsystem
from peach.target_types import (
    ALL_CODOPS_NAME,
    CodopsField,
    ComponentRecord,
    ComponentsField,
    ConfigFilesField,
    DecoratedFunctionsField,
    EndpointNameField,
    EnvironmentNameField,
    FullNotebookField,
    MethodField,
    NotebookField,
    PeachAllTarget,
    PeachCodopsTarget,
    PeachConfigSourcesField,
    PeachConfigTarget,
    PeachEndpointTarget,
    PeachTaskTarget,
    ProvenanceField,
    PyEnvironmentTarget,
    RequirementsField,
    TaskNameField,
    UrlField,
)


class GeneratePeachTargetsRequest(GenerateTargetsRequest):
    generate_from = PeachConfigTarget


# ---------------------------------------------------------------------------------------------
# The settings, and one rule per file, per codops, per notebook
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# The targets
# ---------------------------------------------------------------------------------------------


def relative_to(directory: str, path: str) -> Optional[str]:
    """`path` relative to `directory`, or None when it is not below it."""
    if not directory:
        return path
    prefix = directory + "/"
    return path[len(prefix):] if path.startswith(prefix) else None


@dataclass(frozen=True)
class _Builder:
    """Builds the generated targets of one `peach_config` from the model."""

    template: Mapping[str, object]  # the generator's field values that each generated target copies
    template_address: Address
    union_membership: UnionMembership
    helpers: Mapping[str, str]  # repo path -> spec of its sources-helper target

    def helper_specs(self, paths: Iterable[str]) -> List[str]:
        return [self.helpers[p] for p in sorted(set(paths)) if p in self.helpers]

    def fields(self, codops: Optional[str], values: Dict[str, object]) -> Dict[str, object]:
        tags = tuple(self.template.get(Tags.alias) or ())  # type: ignore[call-overload]
        return {**self.template, Tags.alias: (*tags, codops) if codops else tags or None, **values}

    def address(self, name: str) -> Address:
        return self.template_address.create_generated(name)

    def codops_targets(self, codops: Codops, shared: List[str], decorated: Tuple[DecoratedFunction, ...]) -> List[Target]:
        um = self.union_membership
        env_spec = {e.name: self.address(EnvironmentId(codops.name, e.name).name).spec for e in codops.environments}
        targets: List[Target] = []
        for env in codops.environments:
            targets.append(PyEnvironmentTarget(self.fields(codops.name, {
                CodopsField.alias: codops.name,
                EnvironmentNameField.alias: env.name,
                RequirementsField.alias: env.requirements,
                ProvenanceField.alias: env.provenance,
                ConfigFilesField.alias: env.source_files,
                Dependencies.alias: [*self.helper_specs(env.source_files), *shared],
            }), self.address(EnvironmentId(codops.name, env.name).name), um))
        for ep in codops.endpoints:
            targets.append(PeachEndpointTarget(self.fields(codops.name, {
                CodopsField.alias: codops.name,
                EndpointNameField.alias: ep.name,
                UrlField.alias: ep.url,
                EnvironmentNameField.alias: ep.environment,
                ComponentsField.alias: tuple(
                    ComponentRecord(c.name, c.notebook.path, c.notebook.method, c.notebook.full_notebook)
                    for c in ep.components
                ),
                Dependencies.alias: [env_spec[ep.environment], *self.helper_specs(
                    [ep.source_file, *(c.notebook.path for c in ep.components)])],
            }), self.address(endpoint_name(codops.name, ep.name)), um))
        for task in codops.tasks:
            targets.append(PeachTaskTarget(self.fields(codops.name, {
                CodopsField.alias: codops.name,
                TaskNameField.alias: task.name,
                NotebookField.alias: task.notebook.path,
                MethodField.alias: task.notebook.method,
                FullNotebookField.alias: task.notebook.full_notebook,
                EnvironmentNameField.alias: task.environment,
                Dependencies.alias: [env_spec[task.environment], *self.helper_specs(
                    [task.source_file, task.notebook.path])],
            }), self.address(task_name(codops.name, task.name)), um))
        targets.append(PeachCodopsTarget(self.fields(codops.name, {
            CodopsField.alias: codops.name,
            DecoratedFunctionsField.alias: decorated,
            Dependencies.alias: [t.address.spec for t in targets],
        }), self.address(codops.name), um))
        return targets


@dataclass(frozen=True)
class CodopsTargetsRequest:
    """Everything the targets of one codops are made from. Equal requests give the same targets, so
    after an edit only the codops whose configs changed are built again."""

    codops: Codops
    decorated: Tuple[DecoratedFunction, ...]
    shared: Tuple[str, ...]  # helper specs every environment depends on (the framework-stack file)
    helpers: FrozenDict[str, str]  # repo path -> spec of its sources-helper target, for this codops' files
    template: FrozenDict[str, object]
    template_address: Address


@dataclass(frozen=True)
class CodopsTargets:
    targets: Tuple[Target, ...]


@rule(desc="Generate the targets of a codops", level=LogLevel.TRACE)
def codops_targets(request: CodopsTargetsRequest, union_membership: UnionMembership) -> CodopsTargets:
    builder = _Builder(request.template, request.template_address, union_membership, request.helpers)
    return CodopsTargets(tuple(builder.codops_targets(request.codops, list(request.shared), request.decorated)))


def _files_of(codops: Codops) -> Tuple[str, ...]:
    return tuple(sorted({*codops.source_files, *(nb.path for nb in codops.notebooks)}))


def sources_helpers(template_address: Address, paths: Iterable[str], union_membership: UnionMembership) -> Dict[str, Target]:
    """A sources-helper target per file below the generator's directory (for `--changed-since`)."""
    helpers: Dict[str, Target] = {}
    for path in sorted(set(paths)):
        rel = relative_to(template_address.spec_path, path)
        if rel is None:
            continue
        helpers[path] = TargetGeneratorSourcesHelperTarget(
            {TargetGeneratorSourcesHelperSourcesField.alias: rel},
            template_address.create_file(rel),
            union_membership,
        )
    return helpers


def codops_requests(
    request: GeneratePeachTargetsRequest, found: PeachModel, helpers: Mapping[str, Target], shared_paths: Iterable[str]
) -> List[CodopsTargetsRequest]:
    specs = {path: target.address.spec for path, target in helpers.items()}
    shared = tuple(specs[p] for p in sorted({posixpath.normpath(p) for p in shared_paths}) if p in specs)
    template = FrozenDict.deep_freeze(request.template)
    return [
        CodopsTargetsRequest(
            codops,
            found.decorated.get(codops.name, ()),
            shared,
            FrozenDict({p: specs[p] for p in _files_of(codops) if p in specs}),
            template,
            request.template_address,
        )
        for codops in found.model.codops
    ]


def all_target(request: GeneratePeachTargetsRequest, found: PeachModel, union_membership: UnionMembership) -> Target:
    builder = _Builder(request.template, request.template_address, union_membership, {})
    return PeachAllTarget(builder.fields(None, {
        Dependencies.alias: [builder.address(c.name).spec for c in found.model.codops],
    }), builder.address(ALL_CODOPS_NAME), union_membership)


@rule(desc="Generate targets from the peach configs", level=LogLevel.DEBUG)
async def generate_peach_targets(
    request: GeneratePeachTargetsRequest, peach: PeachSubsystem, union_membership: UnionMembership
) -> GeneratedTargets:
    address = request.generator.address
    if not address.spec_path and not address.target_name:
        raise ConfigError([Problem(
            "BUILD", 0, "peach_config", "the `peach_config` at the build root has no name, so the targets it "
            "generates would have no valid address", "a name, e.g. `peach_config(name=\"peach\")`",
            "write `peach_config(name=\"peach\")`; its targets are then `//:peach#<codops>`...")])
    found = await Get(PeachModel, PeachConfigModelRequest(request.generator[PeachConfigSourcesField]))
    stack = [peach.framework_stack] if peach.framework_stack else []
    helpers = sources_helpers(request.template_address, [*found.config_files, *found.model.notebook_paths, *stack],
                              union_membership)
    per_codops = await MultiGet(Get(CodopsTargets, CodopsTargetsRequest, r)
                                for r in codops_requests(request, found, helpers, stack))
    targets: List[Target] = [*helpers.values(), *(t for c in per_codops for t in c.targets)]
    targets.append(all_target(request, found, union_membership))
    return GeneratedTargets(request.generator, targets)


def rules():
    return [*collect_rules(), UnionRule(GenerateTargetsRequest, GeneratePeachTargetsRequest)]
