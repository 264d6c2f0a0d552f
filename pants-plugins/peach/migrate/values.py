"""The values the migration reads from config files and plans with: list entries with their
comments, `dependencies` lists, endpoints and tasks, files, and the lists to write.

Shared by `read` (which builds them), `plan` (which decides with them) and `text`/`file` (which
write them). No Pants imports.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Optional, Tuple

from peach.config.errors import Problem
from peach.config.model import BASE
from peach.config.requirements import Req
from peach.migrate.tree import Slot, Tree


class MemberKind(Enum):
    """What a member is; `value` is how messages name it."""

    ENDPOINT = "endpoint"
    TASK = "task"

    @property
    def block(self) -> str:
        """The top-level key its entries are written under (`endpoints`, `tasks`)."""
        return f"{self.value}s"


BLOCKS = tuple(kind.block for kind in MemberKind)  # ("endpoints", "tasks")


@dataclass(frozen=True)
class Item:
    """One entry of a dependency list, with the comments that travel with it."""

    value: str
    req: Optional[Req]  # None when the entry is not a valid requirement (reported)
    text: str  # how to write it as a block-list entry: as written when that is safe, else re-quoted
    path: str
    line: int
    key: str  # `endpoints.recommend.dependencies[0]`
    before: Tuple[str, ...] = ()  # own-line comments above it
    inline: str = ""  # the comment after it on its line, with its leading spaces
    declared: bool = False  # an entry of a `py_environments` list (today's config), not of a removed one


@dataclass(frozen=True)
class DepList:
    """A `dependencies` list: a removed (legacy) one, or an environment's."""

    path: str
    key: str  # `endpoints.dependencies`, `py_environments.ml.dependencies`
    line: int
    slot: Slot
    items: Tuple[Item, ...]
    after: Tuple[str, ...] = ()  # own-line comments after its last entry
    problems: Tuple[Problem, ...] = ()


@dataclass(frozen=True)
class Member:
    """An endpoint or a task, with its removed lists (an endpoint's own, then its components')."""

    kind: MemberKind
    name: str
    path: str
    line: int
    index: int  # where its key is written, for file order
    key: str  # `endpoints.recommend`
    slot: Slot
    own: Tuple[DepList, ...]
    py_env: Optional[str]  # the environment it selects today (None: none, or not a string)

    @property
    def block(self) -> str:
        return self.kind.block


@dataclass(frozen=True)
class FileLegacy:
    """One config file as the migration sees it."""

    tree: Tree
    codops: str
    top: Optional[DepList]
    blocks: Tuple[Tuple[str, Optional[DepList]], ...]  # ("endpoints", its list), ("tasks", ...)
    members: Tuple[Member, ...]
    envs: Tuple[Tuple[str, DepList], ...]  # the environments declared in this file

    @property
    def path(self) -> str:
        return self.tree.source.path

    def block_list(self, block: str) -> Optional[DepList]:
        return dict(self.blocks).get(block)

    def env(self, name: str) -> Optional[DepList]:
        return dict(self.envs).get(name)

    @property
    def legacy_lists(self) -> Tuple[DepList, ...]:
        lists = [self.top, *(lst for _, lst in self.blocks)]
        lists.extend(lst for member in self.members for lst in member.own)
        return tuple(lst for lst in lists if lst is not None)

    @property
    def written_lists(self) -> Tuple[DepList, ...]:
        """The legacy lists, each written key once (a key merged into several mappings is read once per
        mapping)."""
        seen: set = set()
        unique = []
        for lst in self.legacy_lists:
            if id(lst.slot.key_node) not in seen:
                seen.add(id(lst.slot.key_node))
                unique.append(lst)
        return tuple(unique)


@dataclass(frozen=True)
class NewList:
    """Entries to write as one `dependencies` list: the items (with their comments), then comments."""

    items: Tuple[Item, ...]
    after: Tuple[str, ...] = ()

    @property
    def has_comments(self) -> bool:
        return bool(self.after) or any(item.before or item.inline for item in self.items)


def env_default(member: Member) -> Optional[str]:
    """The environment whose entries a member's new environment starts with (None: base)."""
    return member.py_env if member.py_env and member.py_env != BASE else None
