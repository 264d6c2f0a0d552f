"""`pants package`: one locked uv project per environment, `environments.json` per codops.

- a `py_environment` writes `dist/peach/<codops>/<env>/{pyproject.toml,uv.lock}`;
- a `peach_codops` writes its environments and `dist/peach/<codops>/environments.json`, after
  clearing `dist/peach/<codops>/`, so an environment the configs no longer declare disappears;
- `peach_all` writes the codops of its `peach_config` after clearing `dist/peach/`, so a deleted
  codops disappears too.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from pants.base.build_root import BuildRoot
from pants.core.goals.package import (
    BuiltPackage,
    BuiltPackageArtifact,
    EnvironmentAwarePackageRequest,
    PackageFieldSet,
)
from pants.engine.fs import CreateDigest, Digest, FileContent, MergeDigests
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import DependenciesRequest, Target, Targets
from pants.engine.unions import UnionRule
from pants.util.logging import LogLevel

from peach.config.decorators import DecoratedFunction
from peach.config.errors import PackagingError
from peach.config.ids import PROJECTS_DIR, EnvironmentId, codops_project_dir
from peach.environments.lock import LockedEnvironment, LockEnvironmentRequest
from peach.environments.platforms import ImagePlatforms
from peach.environments.project import EnvironmentRequest
from peach.insight.changes import render_lock_changes, summary_line
from peach.insight.sizes import (
    Budget,
    BudgetOptionError,
    EnvironmentSize,
    SizeChange,
    budget_for,
    budget_problem,
    environment_size,
    parse_budgets,
    size_changes,
)
from peach.subsystem import PeachSubsystem
from peach.target_types import (
    CodopsField,
    ComponentsField,
    ConfigFilesField,
    DecoratedFunctionsField,
    EndpointNameField,
    EnvironmentNameField,
    FullNotebookField,
    MethodField,
    NotebookField,
    PeachAllDependenciesField,
    PeachCodopsDependenciesField,
    ProvenanceField,
    RequirementsField,
    TaskNameField,
    UrlField,
)
from peach.uv.lockfile import LockChanges, lock_changes, parse_lock, relocate

logger = logging.getLogger(__name__)

# The lock-change log names every change up to this many (a user's one added package is never hidden
# behind "and 1 more"); beyond it, the first ones and a count. lock-changes.json has them all.
LOGGED_CHANGES = 12


@dataclass(frozen=True)
class PyEnvironmentFieldSet(PackageFieldSet):
    required_fields = (CodopsField, EnvironmentNameField, RequirementsField)

    codops: CodopsField
    environment: EnvironmentNameField
    requirements: RequirementsField
    config_files: ConfigFilesField
    provenance: ProvenanceField

    @property
    def request(self) -> EnvironmentRequest:
        return EnvironmentRequest(self.codops.value, self.environment.value, tuple(self.requirements.value or ()),
                                  tuple(self.config_files.value or ()))


@dataclass(frozen=True)
class PeachCodopsFieldSet(PackageFieldSet):
    required_fields = (CodopsField, PeachCodopsDependenciesField)

    codops: CodopsField
    decorated: DecoratedFunctionsField
    dependencies: PeachCodopsDependenciesField


@dataclass(frozen=True)
class PeachAllFieldSet(PackageFieldSet):
    required_fields = (PeachAllDependenciesField,)

    dependencies: PeachAllDependenciesField


@dataclass(frozen=True)
class SizeRequest:
    """The size of what the image's platforms install from one `uv.lock` (its text)."""

    lock: str


@rule(desc="Size a peach environment", level=LogLevel.DEBUG)
async def size_environment(request: SizeRequest, image: ImagePlatforms) -> EnvironmentSize:
    # From the lock's own records: no process. Memoized, so a no-op build does not read locks again.
    return environment_size(request.lock, image.platforms, image.python_version)


@dataclass(frozen=True)
class SizeBudgets:
    budgets: Tuple[Budget, ...]


@rule
async def size_budgets(peach: PeachSubsystem) -> SizeBudgets:
    try:
        return SizeBudgets(parse_budgets(peach.size_budgets))
    except BudgetOptionError as e:
        raise PackagingError(str(e)) from None


@rule(desc="Package a peach environment as a uv project", level=LogLevel.DEBUG)
async def package_py_environment(
    fs: PyEnvironmentFieldSet, buildroot: BuildRoot, image: ImagePlatforms, budgets: SizeBudgets
) -> BuiltPackage:
    locked = await Get(LockedEnvironment, LockEnvironmentRequest(fs.request))
    env_id = fs.request.id
    if budget_for(budgets.budgets, env_id.name) is not None:
        size = locked.size or await Get(EnvironmentSize, SizeRequest(locked.lock))
        problem = budget_problem(fs.codops.value, fs.environment.value, locked.project.requirements,
                                 fs.provenance.value, locked.lock, size, budgets.budgets, image.platforms,
                                 image.python_version)
        if problem:
            raise PackagingError(problem)
    out = env_id.project_dir
    digest = await Get(Digest, CreateDigest([
        FileContent(f"{out}/pyproject.toml", locked.pyproject),
        # A directory index is named by its absolute path in uv.lock: here, this checkout's.
        FileContent(f"{out}/uv.lock", relocate(locked.lock, buildroot.path).encode()),
    ]))
    return BuiltPackage(digest, (BuiltPackageArtifact(f"{out}/pyproject.toml"), BuiltPackageArtifact(f"{out}/uv.lock")))


def environments_json(
    codops: str, environments: Sequence[LockedEnvironment], targets: Sequence[Target],
    decorated: Sequence[DecoratedFunction] = (), sizes: Mapping[str, EnvironmentSize] = {},
    budgets: Sequence[Budget] = (),
) -> str:
    """`environments.json` of one codops: every environment (with its `size` per platform, from
    `sizes` by environment name, and its budget), endpoint component, task and function its
    notebooks decorate with the peach decorator."""
    endpoints: List[Dict[str, object]] = []
    tasks: List[Dict[str, object]] = []
    for t in targets:
        if t.has_field(UrlField):
            env = t[EnvironmentNameField].value
            for c in t[ComponentsField].value:
                endpoints.append({"endpoint": t[EndpointNameField].value, "component": c.name, "url": t[UrlField].value,
                                  "notebook": c.notebook, "method": c.method, "full_notebook": c.full_notebook,
                                  "environment": env, "project_dir": EnvironmentId(codops, env).project_dir})
        elif t.has_field(TaskNameField):
            env = t[EnvironmentNameField].value
            tasks.append({"task": t[TaskNameField].value, "notebook": t[NotebookField].value,
                          "method": t[MethodField].value, "full_notebook": t[FullNotebookField].value,
                          "environment": env, "project_dir": EnvironmentId(codops, env).project_dir})
    doc = {
        "codops": codops,
        "environments": {
            e.project.request.environment: {
                "project_dir": EnvironmentId(codops, e.project.request.environment).project_dir,
                "requirements": list(e.project.requirements),
                **({"size": sizes[e.project.request.environment].as_json(
                    budget_for(budgets, EnvironmentId(codops, e.project.request.environment).name))}
                   if e.project.request.environment in sizes else {}),
            }
            for e in sorted(environments, key=lambda e: e.project.request.environment)
        },
        "endpoints": sorted(endpoints, key=lambda e: (str(e["endpoint"]), str(e["component"]))),
        "tasks": sorted(tasks, key=lambda t: str(t["task"])),
        "decorated": [
            {"notebook": d.notebook, "cell": d.cell, "line": d.line, "function": d.function, "decorator": d.kind,
             "environment": d.environment,
             "project_dir": EnvironmentId(codops, d.environment).project_dir if d.environment else None}
            for d in sorted(decorated, key=lambda d: (d.notebook, d.cell, d.line, d.function))
        ],
    }
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def environment_changes(locked: LockedEnvironment) -> Optional[LockChanges]:
    """What this build's lock changes against the committed lockfile; None without one.

    Only the committed lockfile: it is an input of the build, so `lock-changes.json` stays a function
    of the build's inputs (cacheable, the same on every machine). The previous build's `dist/` is not
    one, and a rule may not read it.
    """
    baseline = locked.committed_lock
    if baseline is None:
        return None
    if baseline == locked.lock:
        return LockChanges((), (), ())
    return lock_changes(parse_lock(baseline), parse_lock(locked.lock))


@rule(desc="Package a peach codops", level=LogLevel.DEBUG)
async def package_codops(fs: PeachCodopsFieldSet, budgets: SizeBudgets) -> BuiltPackage:
    codops = fs.codops.value
    targets = await Get(Targets, DependenciesRequest(fs.dependencies))
    env_field_sets = [PyEnvironmentFieldSet.create(t) for t in targets if PyEnvironmentFieldSet.is_applicable(t)]
    built = await MultiGet(Get(BuiltPackage, EnvironmentAwarePackageRequest(f)) for f in env_field_sets)
    locked = await MultiGet(Get(LockedEnvironment, LockEnvironmentRequest(f.request)) for f in env_field_sets)
    unsized = [env.lock for env in locked if env.size is None]
    computed = dict(zip(unsized, await MultiGet(Get(EnvironmentSize, SizeRequest(lock)) for lock in unsized)))
    sizes = [env.size or computed[env.lock] for env in locked]
    # The size before: the same computation on the committed lockfile (what lock-changes.json compares
    # with), unless that is the lock shipped now.
    other = sorted({env.committed_lock for env in locked
                    if env.committed_lock is not None and env.committed_lock != env.lock})
    before_by_lock = dict(zip(other, await MultiGet(Get(EnvironmentSize, SizeRequest(b)) for b in other)))
    changes: Dict[str, Optional[LockChanges]] = {}
    baselines: Dict[str, Optional[str]] = {}
    grown: Dict[str, Tuple[SizeChange, ...]] = {}
    for env, size in zip(locked, sizes):
        name = EnvironmentId(codops, env.project.request.environment).name
        changes[name], baselines[name] = environment_changes(env), env.committed
        if changes[name] is None:
            continue
        grown[name] = size_changes(before_by_lock.get(env.committed_lock, size), size)
        if not changes[name].empty:
            logger.info(summary_line(name, changes[name], grown[name], items=LOGGED_CHANGES))
    summary = f"{codops_project_dir(codops)}/environments.json"
    content = environments_json(codops, locked, targets, fs.decorated.value,
                                {env.project.request.environment: size for env, size in zip(locked, sizes)},
                                budgets.budgets)
    summary_digest = await Get(Digest, CreateDigest([
        FileContent(summary, content.encode()),
        FileContent(f"{codops_project_dir(codops)}/lock-changes.json", render_lock_changes(changes, baselines, grown).encode()),
    ]))
    digest = await Get(Digest, MergeDigests([summary_digest, *(b.digest for b in built)]))
    names = ", ".join(sorted(f.environment.value for f in env_field_sets))
    # One artifact, the codops' directory: Pants clears it before writing the build into it.
    return BuiltPackage(digest, (BuiltPackageArtifact(
        codops_project_dir(codops),
        extra_log_lines=(f"    environments.json, lock-changes.json and the projects {names}",)),))


@rule(desc="Package every peach codops", level=LogLevel.DEBUG)
async def package_all(fs: PeachAllFieldSet) -> BuiltPackage:
    # The codops of this `peach_config` (its dependencies), not every codops of the repository: with
    # two `peach_config` targets, each `_all` packages its own, so each codops is packaged once.
    targets = await Get(Targets, DependenciesRequest(fs.dependencies))
    codops = [PeachCodopsFieldSet.create(t) for t in targets if PeachCodopsFieldSet.is_applicable(t)]
    built = await MultiGet(Get(BuiltPackage, EnvironmentAwarePackageRequest(f)) for f in codops)
    digest = await Get(Digest, MergeDigests(b.digest for b in built))
    names = ", ".join(sorted({f.codops.value for f in codops}))
    # One artifact, `peach/`: Pants clears it before writing (once per run, for every package of the
    # run together), so nothing of an older build remains.
    return BuiltPackage(digest, (BuiltPackageArtifact(PROJECTS_DIR, extra_log_lines=(f"    codops {names}",)),))


def rules():
    return [
        *collect_rules(),
        UnionRule(PackageFieldSet, PyEnvironmentFieldSet),
        UnionRule(PackageFieldSet, PeachCodopsFieldSet),
        UnionRule(PackageFieldSet, PeachAllFieldSet),
    ]
