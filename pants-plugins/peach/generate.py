"""Generating peach targets from the merged config model."""
from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Optional

from pants.core.target_types import (
    TargetGeneratorSourcesHelperSourcesField,
    TargetGeneratorSourcesHelperTarget,
)
from pants.base.build_root import BuildRoot
from pants.engine.addresses import Address
from pants.engine.fs import Digest, DigestContents, PathGlobs
from pants.engine.internals.selectors import Get
from pants.engine.rules import collect_rules, rule
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
from pants.util.logging import LogLevel

from peach.config import Codops, Model, build_model, check_notebooks, make_settings
from peach.subsystem import PeachSubsystem
from peach.target_types import (
    CodopsField,
    ComponentsField,
    ConfigFilesField,
    EndpointNameField,
    EnvironmentNameField,
    FullNotebookField,
    MethodField,
    NotebookField,
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


def environment_name(codops: str, environment: str) -> str:
    return f"{codops}/{environment}"


def endpoint_name(codops: str, endpoint: str) -> str:
    return f"{codops}/endpoints/{endpoint}"


def task_name(codops: str, task: str) -> str:
    return f"{codops}/tasks/{task}"


@dataclass(frozen=True)
class _Builder:
    """Builds the generated targets of one `peach_config` from the model."""

    request: GeneratePeachTargetsRequest
    union_membership: UnionMembership
    helpers: Mapping[str, Target]  # repo path -> sources-helper target

    def helper_specs(self, paths: Iterable[str]) -> List[str]:
        return [self.helpers[p].address.spec for p in sorted(set(paths)) if p in self.helpers]

    def fields(self, codops: str, values: Dict[str, object]) -> Dict[str, object]:
        tags = tuple(self.request.template.get(Tags.alias) or ())
        return {**self.request.template, Tags.alias: (*tags, codops), **values}

    def address(self, name: str) -> Address:
        return self.request.template_address.create_generated(name)

    def codops_targets(self, codops: Codops, shared: List[str]) -> List[Target]:
        um = self.union_membership
        env_spec = {e.name: self.address(environment_name(codops.name, e.name)).spec for e in codops.environments}
        targets: List[Target] = []
        for env in codops.environments:
            targets.append(PyEnvironmentTarget(self.fields(codops.name, {
                CodopsField.alias: codops.name,
                EnvironmentNameField.alias: env.name,
                RequirementsField.alias: env.requirements,
                ProvenanceField.alias: env.provenance,
                ConfigFilesField.alias: env.source_files,
                Dependencies.alias: [*self.helper_specs(env.source_files), *shared],
            }), self.address(environment_name(codops.name, env.name)), um))
        for ep in codops.endpoints:
            targets.append(PeachEndpointTarget(self.fields(codops.name, {
                CodopsField.alias: codops.name,
                EndpointNameField.alias: ep.name,
                UrlField.alias: ep.url,
                EnvironmentNameField.alias: ep.environment,
                ComponentsField.alias: tuple(
                    f"{c.name}: {c.notebook.path}:{c.notebook.method}"
                    + (" (full notebook)" if c.notebook.full_notebook else "")
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
            Dependencies.alias: [t.address.spec for t in targets],
        }), self.address(codops.name), um))
        return targets


def relative_to(directory: str, path: str) -> Optional[str]:
    """`path` relative to `directory`, or None when it is not below it."""
    if not directory:
        return path
    prefix = directory + "/"
    return path[len(prefix):] if path.startswith(prefix) else None


def escaping_paths(buildroot: str, paths: Iterable[str]) -> List[str]:
    """Paths that resolve (through symbolic links) to somewhere outside the build root."""
    root = os.path.realpath(buildroot)
    return [p for p in paths if os.path.commonpath([root, os.path.realpath(os.path.join(root, p))]) != root]


def peach_targets(
    request: GeneratePeachTargetsRequest,
    model: Model,
    helper_paths: Iterable[str],
    framework_path: str,
    union_membership: UnionMembership,
) -> GeneratedTargets:
    """All targets one `peach_config` generates, with a sources helper per file read."""
    spec_path = request.template_address.spec_path
    helpers: Dict[str, Target] = {}
    for path in sorted(set(helper_paths)):
        rel = relative_to(spec_path, path)
        if rel is None:
            continue
        helpers[path] = TargetGeneratorSourcesHelperTarget(
            {TargetGeneratorSourcesHelperSourcesField.alias: rel},
            request.template_address.create_file(rel),
            union_membership,
        )
    builder = _Builder(request, union_membership, helpers)
    shared = builder.helper_specs([posixpath.normpath(framework_path)])
    targets: List[Target] = list(helpers.values())
    for codops in model.codops:
        targets.extend(builder.codops_targets(codops, shared))
    return GeneratedTargets(request.generator, targets)


@rule(desc="Generate targets from the peach configs", level=LogLevel.DEBUG)
async def generate_peach_targets(
    request: GeneratePeachTargetsRequest,
    peach: PeachSubsystem,
    union_membership: UnionMembership,
    buildroot: BuildRoot,
) -> GeneratedTargets:
    sources = await Get(HydratedSources, HydrateSourcesRequest(request.generator[PeachConfigSourcesField]))
    configs = await Get(DigestContents, Digest, sources.snapshot.digest)
    framework = await Get(DigestContents, PathGlobs([peach.framework_stack]))
    settings = make_settings(
        peach.injected_requirements,
        peach.framework_stack,
        framework[0].content if framework else None,
        peach.private_packages,
        peach.gateway_environment,
    )
    model = build_model(((fc.path, fc.content) for fc in configs), settings)
    escaping = escaping_paths(buildroot.path, model.notebook_paths)
    notebooks = await Get(DigestContents, PathGlobs([p for p in model.notebook_paths if p not in escaping]))
    check_notebooks(model, {fc.path: fc.content for fc in notebooks}, escaping)
    helper_paths = [*(fc.path for fc in configs), *model.notebook_paths, peach.framework_stack]
    return peach_targets(request, model, helper_paths, peach.framework_stack, union_membership)


def rules():
    return [*collect_rules(), UnionRule(GenerateTargetsRequest, GeneratePeachTargetsRequest)]
