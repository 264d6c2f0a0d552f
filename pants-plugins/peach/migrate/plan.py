"""What the migration of one codops does, decided on its files' legacy lists (semantics §8).

- The meaning of the legacy lists: an endpoint or task ran with the repo-wide list (the top-level
  lists of every file of the codops, each after its file's `base` environment, in path order), then
  its block's list (`endpoints.dependencies` / `tasks.dependencies` of its own file), then its own
  list (for an endpoint, then the lists of its components, in order), resolved as in §4.
- The plan: every top-level list moves to its file's `base`; every endpoint or task whose block and
  own lists hold entries gets a new environment (the entries of the environment it selected, then
  those lists), shared by the endpoints and tasks whose entries are the same, named after the first
  of them (suffixed `-2`, `-3`... when the name is taken) and written into that one's file.
- What stops the migration: entries that would conflict within one environment (§3) and framework
  packages (§5), each a located `Problem` saying which entry to fix.
No Pants imports.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict, List, Optional, Sequence, Tuple

from peach.config.errors import Problem, shorten
from peach.config.model import BASE, NAME_RE
from peach.config.requirements import Entry, Tier, resolve
from peach.config.settings import Settings
from peach.config.typed import Source
from peach.migrate.values import DepList, FileLegacy, Item, Member, NewList, env_default

FIX_AGAIN = "then run the migration again"


@dataclass(frozen=True)
class NewEnv:
    name: str
    path: str  # the file it is written into: its first member's
    members: Tuple[Member, ...]
    entries: NewList


@dataclass(frozen=True)
class CodopsPlan:
    codops: str
    files: Tuple[FileLegacy, ...]
    new_envs: Tuple[NewEnv, ...]

    def env_of(self, member: Member) -> Optional[str]:
        """The new environment of a member, None when it keeps its `py_env` (or none)."""
        return next((env.name for env in self.new_envs if member in env.members), None)


# ---------------------------------------------------------------------------------------------
# Candidate lists
# ---------------------------------------------------------------------------------------------

def env_items(files: Sequence[FileLegacy], name: str) -> Tuple[Item, ...]:
    """An existing environment's entries, every file of the codops in path order (§3)."""
    return tuple(item for f in files for lst in [f.env(name)] if lst is not None for item in lst.items)


def base_items(files: Sequence[FileLegacy]) -> Tuple[Item, ...]:
    """The `base` tier after the migration: per file, its `base` entries, then its top-level list."""
    found: List[Item] = []
    for f in files:
        found.extend(f.env(BASE).items if f.env(BASE) is not None else ())
        found.extend(f.top.items if f.top is not None else ())
    return tuple(found)


def legacy_lists(f: FileLegacy, member: Member) -> Tuple[DepList, ...]:
    block = f.block_list(member.block)
    return tuple(lst for lst in (block, *member.own) if lst is not None)


def new_entries(files: Sequence[FileLegacy], member: Member) -> Optional[NewList]:
    """The entries of a member's new environment, None when its block and own lists are empty."""
    f = next(f for f in files if f.path == member.path)
    lists = legacy_lists(f, member)
    if not any(lst.items for lst in lists):
        return None
    default = env_default(member)
    items = [replace(item, before=(), inline="") for item in (env_items(files, default) if default else ())]
    pending: List[str] = []
    for lst in lists:
        for item in lst.items:
            items.append(replace(item, before=(*pending, *item.before)) if pending else item)
            pending = []
        pending.extend(lst.after)
    return NewList(tuple(items), tuple(pending))


def legacy_requirements(files: Sequence[FileLegacy], member: Member, settings: Settings) -> Tuple[str, ...]:
    """What the member ran with under the old rules (§8), resolved as in §4."""
    f = next(f for f in files if f.path == member.path)
    default = env_default(member)
    own = [*(env_items(files, default) if default else ()), *(i for lst in legacy_lists(f, member) for i in lst.items)]
    entries = [*settings.injected, *_entries(base_items(files), Tier.BASE), *_entries(own, Tier.ENVIRONMENT),
               *settings.framework]
    return tuple(r.text for r in resolve(entries))


def _entries(items: Sequence[Item], tier: Tier) -> List[Entry]:
    return [Entry(item.req, tier, Source(item.path, item.line)) for item in items if item.req is not None]


# ---------------------------------------------------------------------------------------------
# The plan
# ---------------------------------------------------------------------------------------------

def plan_codops(codops: str, files: Sequence[FileLegacy], settings: Settings) -> Tuple[CodopsPlan, Tuple[Problem, ...]]:
    members = sorted((m for f in files for m in f.members), key=lambda m: (m.path, m.index))
    needing = [(m, entries) for m in members for entries in [new_entries(files, m)] if entries is not None]
    groups: Dict[Tuple[str, ...], List[Tuple[Member, NewList]]] = {}
    for member, entries in needing:
        groups.setdefault(tuple(item.value for item in entries.items), []).append((member, entries))
    taken = {name.lower() for f in files for name, _ in f.envs} | {BASE, settings.gateway_environment.lower()}
    new_envs = []
    for group in groups.values():
        name = _unique(group[0][0].name, taken)
        taken.add(name.lower())
        new_envs.append(NewEnv(name, group[0][0].path, tuple(m for m, _ in group), _shared([e for _, e in group])))
    problems = [*_framework_problems(files, settings), *_base_conflicts(files)]
    for member, entries in needing:
        problems.extend(_env_conflicts(member, entries))
    return CodopsPlan(codops, tuple(files), tuple(new_envs)), tuple(problems)


def _unique(name: str, taken: set) -> str:
    if name.lower() not in taken and name != BASE:
        return name
    number = 2
    while True:
        suffix = f"-{number}"
        candidate = name[: 100 - len(suffix)] + suffix
        if candidate.lower() not in taken and NAME_RE.match(candidate):
            return candidate
        number += 1


def _shared(lists: Sequence[NewList]) -> NewList:
    """One environment's entries for members whose entries are the same: every member's comments, once."""
    first = lists[0]
    items = []
    for position, item in enumerate(first.items):
        before = list(item.before)
        inline = item.inline
        for other in lists[1:]:
            twin = other.items[position]
            for comment in (*twin.before, twin.inline.strip()):
                if comment and comment not in before and comment != inline.strip():
                    if not inline:
                        inline = twin.inline
                    else:
                        before.append(comment)
        items.append(replace(item, before=tuple(before), inline=inline))
    after = list(dict.fromkeys(c for lst in lists for c in lst.after))
    return NewList(tuple(items), tuple(after))


# ---------------------------------------------------------------------------------------------
# What stops the migration
# ---------------------------------------------------------------------------------------------

def _framework_problems(files: Sequence[FileLegacy], settings: Settings) -> List[Problem]:
    framework = settings.framework_keys
    problems = []
    for f in files:
        for lst in f.legacy_lists:
            for item in lst.items:
                stack = framework.get(item.req.key) if item.req is not None else None
                if stack is not None:
                    problems.append(Problem(
                        item.path, item.line, item.key,
                        f"`{shorten(item.value)}` is a framework-stack package (`{stack.req.text}`, {stack.source}), "
                        "which is pinned into every environment and which no environment may declare",
                        "packages outside the framework stack",
                        f"delete the entry (the framework stack provides `{stack.req.name}`), {FIX_AGAIN}"))
    return problems


def _base_conflicts(files: Sequence[FileLegacy]) -> List[Problem]:
    where = "`py_environments.base` (every top-level list moves there)"
    return _conflicts(base_items(files), where, "")


def _env_conflicts(member: Member, entries: NewList) -> List[Problem]:
    default = env_default(member)
    where = f"the new environment of the {member.kind.value} `{member.name}`"
    if default:
        where += f" (the entries of `{default}`, which it selects today, then its legacy lists)"
    return _conflicts(entries.items, where, f"the {member.kind.value} `{member.name}`")


def _conflicts(items: Sequence[Item], where: str, who: str) -> List[Problem]:
    """Two different version specifiers for one package in one environment (§3), one of them legacy."""
    first: Dict[str, Item] = {}
    problems = []
    for item in items:
        if item.req is None or item.req.is_bare:
            continue
        earlier = first.setdefault(item.req.key, item)
        if earlier is item or (earlier.req.specifier, earlier.req.marker) == (item.req.specifier, item.req.marker):
            continue
        if earlier.declared and item.declared:
            continue  # a conflict of today's config, reported as such
        ran = f" (under the old rules {who} ran with the later one, `{shorten(item.value)}`)" if who else ""
        problems.append(Problem(
            item.path, item.line, item.key,
            f"`{shorten(item.value)}` conflicts with `{shorten(earlier.value)}` (`{earlier.key}`, "
            f"{earlier.path}:{earlier.line}): after the migration both would be in {where}",
            "one version specifier per package and environment",
            f"keep one of the two entries{ran}, {FIX_AGAIN}"))
    return problems
