"""Merging the files of each codops and resolving every environment (semantics §1-§5).

No Pants imports. `parse_file` reads one file; `merge` merges many; `build_model` does both.
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from peach.config.errors import (
    ConfigError,
    Problem,
    ProblemCollector,
    did_you_mean,
    quote_list,
    shorten,
)
from peach.config.model import (
    BASE,
    VALID_NAME,
    Codops,
    Dep,
    Endpoint,
    EnvDecl,
    Environment,
    EnvironmentKind,
    FileConfig,
    Model,
    PyEnvRef,
    Task,
)
from peach.config.reader import read_config_file
from peach.config.requirements import Entry, Tier, resolve
from peach.config.settings import Settings
from peach.config.typed import Source

_CODOPS_LINE = re.compile(rb"^codops:[ \t]*[\"']?([a-z0-9][a-z0-9_-]{0,63})[\"']?[ \t]*(?:#.*)?$", re.MULTILINE)


@dataclass(frozen=True)
class ParsedFile:
    """One config file as read: its config, or None when it could not be read."""

    path: str
    config: Optional[FileConfig]
    problems: Tuple[Problem, ...]
    # The file is not valid YAML (or not UTF-8): nothing of it is known.
    unparsable: bool = False
    # For an unparsable file: the codops its text names, if a `codops:` line can be seen.
    unparsable_codops: Optional[str] = None


def parse_file(path: str, content: bytes) -> ParsedFile:
    """Read and validate one config file (§1-§6, per file)."""
    problems = ProblemCollector()
    config = read_config_file(path, content, problems)
    unparsable = config is None and any(p.first for p in problems.problems)
    guess = None
    if unparsable:
        match = _CODOPS_LINE.search(content)
        guess = match.group(1).decode() if match else None
    return ParsedFile(path, config, tuple(problems.problems), unparsable, guess)


@dataclass(frozen=True)
class CodopsInput:
    """The readable files of one codops, and whether its `py_env` references can be checked."""

    name: str
    files: Tuple[FileConfig, ...]
    check_refs: bool = True


def group(files: Sequence[ParsedFile]) -> Tuple[Tuple[Problem, ...], Tuple[CodopsInput, ...]]:
    """The problems of every file, and the readable files grouped per codops (in path order).

    A codops with a file that does not parse (every codops, when the file does not show which)
    skips the `py_env` checks, which that file's missing declarations would fail.
    """
    problems: List[Problem] = []
    by_codops: Dict[str, List[FileConfig]] = defaultdict(list)
    unparsable: set = set()
    unknown_unparsable = False
    for parsed in sorted(files, key=lambda f: f.path):
        problems.extend(parsed.problems)
        if parsed.config is not None:
            by_codops[parsed.config.codops].append(parsed.config)
        elif parsed.unparsable and parsed.unparsable_codops is not None:
            unparsable.add(parsed.unparsable_codops)
        elif parsed.unparsable:
            unknown_unparsable = True
    inputs = tuple(
        CodopsInput(name, tuple(by_codops[name]), not (unknown_unparsable or name in unparsable))
        for name in sorted(by_codops)
    )
    return tuple(problems), inputs


def merge_one(codops: CodopsInput, settings: Settings) -> Tuple[Codops, Tuple[Problem, ...]]:
    problems = ProblemCollector()
    merged = merge_codops(codops.name, codops.files, settings, problems, codops.check_refs)
    return merged, tuple(problems.problems)


def merge(files: Sequence[ParsedFile], settings: Settings) -> Model:
    """Merge the read files per codops; raises ConfigError listing every problem (files that do not
    parse first)."""
    problems, inputs = group(files)
    merged = [merge_one(codops, settings) for codops in inputs]
    every = [*problems, *(p for _, found in merged for p in found)]
    if every:
        raise ConfigError(every)
    return Model(tuple(codops for codops, _ in merged))


def build_model(files: Iterable[Tuple[str, bytes]], settings: Settings) -> Model:
    """Read every config file, merge per codops and resolve each environment (§1-§5)."""
    return merge([parse_file(path, content) for path, content in files], settings)


def merge_codops(
    name: str, files: Sequence[FileConfig], settings: Settings, problems: ProblemCollector, check_refs: bool = True
) -> Codops:
    """One codops from its files (in path order); problems go to `problems`.

    `check_refs=False` skips the `py_env` checks: when a file of the codops could not be read, its
    environments are unknown, and "unknown environment" errors would only be knock-on errors.
    """
    env_decls: Dict[str, List[EnvDecl]] = {}
    for config in files:
        for decl in config.envs:
            env_decls.setdefault(decl.name, []).append(decl)

    _check_declarations(env_decls, settings, problems)
    environments = _environments(name, env_decls, settings)
    all_names = sorted({BASE, *env_decls})

    invalid = {env for config in files for env in config.invalid_envs}
    for config in files if check_refs else ():
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


def _check_declarations(env_decls: Mapping[str, Sequence[EnvDecl]], settings: Settings, problems: ProblemCollector) -> None:
    """The environments' declarations: reserved and case-folded names, framework packages, tier conflicts."""
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


def _environments(name: str, env_decls: Mapping[str, Sequence[EnvDecl]], settings: Settings) -> List[Environment]:
    """`base`, the declared environments (by name) and the gateway environment, each resolved (§4)."""
    declared = sorted(env_decls)
    base_deps = [Entry(d.req, Tier.BASE, Source(d.path, d.line)) for decl in env_decls.get(BASE, []) for d in decl.deps]
    base_files = tuple(sorted({d.path for d in env_decls.get(BASE, [])}))

    def environment(env_name: str, kind: EnvironmentKind) -> Environment:
        own = [] if kind != EnvironmentKind.NAMED else [
            Entry(d.req, Tier.ENVIRONMENT, Source(d.path, d.line)) for decl in env_decls[env_name] for d in decl.deps
        ]
        own_files = {d.path for d in env_decls.get(env_name, [])} if kind == EnvironmentKind.NAMED else set()
        return Environment(
            codops=name,
            name=env_name,
            kind=kind,
            resolved=resolve([*settings.injected, *base_deps, *own, *settings.framework]),
            source_files=tuple(sorted({*base_files, *own_files})),
        )

    environments = [environment(BASE, EnvironmentKind.BASE)]
    environments.extend(environment(n, EnvironmentKind.NAMED) for n in declared if n != BASE)
    environments.append(environment(settings.gateway_environment, EnvironmentKind.GATEWAY))
    return environments


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


def _check_py_env(ref: PyEnvRef, names: Sequence[str], codops: str, problems: ProblemCollector) -> None:
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


def _check_tier_conflicts(deps: Sequence[Dep], problems: ProblemCollector) -> None:
    """Within one tier, two different version specifiers for one package are an error (§3)."""
    first: Dict[str, Dep] = {}
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


