"""From the model to targets: `peach_config` generates the targets of every codops it reads.

The model comes from `read_configs.py` (one memoized rule per config file, codops and notebook);
here, one memoized rule per codops makes its targets, so after an edit only the codops whose
configs changed are built again.
"""
from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Optional, Tuple

from pants.core.target_types import (
    TargetGeneratorSourcesHelperSourcesField,
    TargetGeneratorSourcesHelperTarget,
)
from pants.engine.addresses import Address
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import (
    Dependencies,
    GeneratedTargets,
    GenerateTargetsRequest,
    Tags,
    Target,
)
from pants.engine.unions import UnionMembership, UnionRule
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel

from peach.config import Codops, ConfigError, Problem
from peach.config.decorators import DecoratedFunction
from peach.config.ids import EnvironmentId, endpoint_name, task_name
from peach.read_configs import PeachConfigModelRequest, PeachModel
from peach.subsystem import PeachSubsystem
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
