"""The edits of one config file, from its codops' migration plan, and what they change (for humans).

- every legacy `dependencies` key goes; an endpoint's or task's own key is replaced in place by its
  `py_env` when it can be (same mapping, no `py_env` yet), and the top-level key by the file's new
  `py_environments` block when the file has none;
- `py_env` is set on every endpoint and task that got a new environment (its value replaced, or the
  key added after the leading one-line values, `url`, `notebook`, `method`...);
- the top-level list is appended to the file's `base` (created, first, when missing), and the new
  environments of the file are appended to its `py_environments` (created before `endpoints:` /
  `tasks:` when missing).
No Pants imports.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from peach.config.model import BASE
from peach.migrate.plan import CodopsPlan
from peach.migrate.read import scalar_text
from peach.migrate.text import (
    Edit,
    Style,
    add_environments,
    add_first_environment,
    add_key,
    append_to_list,
    apply,
    block_span,
    environments_block,
    insert_block_before,
    remove,
    replace_with,
    set_value,
)
from peach.migrate.tree import (
    NodeKind,
    PNode,
    Slot,
    UnsafeEdit,
    anchors_and_aliases,
    deref,
)
from peach.migrate.values import BLOCKS, DepList, FileLegacy, Member, NewList


@dataclass(frozen=True)
class FileEdits:
    text: str
    summary: Tuple[str, ...]


def own_pair(mapping: Optional[PNode], key: str) -> Optional[Slot]:
    """The pair `key` written in `mapping` itself (not merged into it)."""
    if mapping is None or mapping.kind is not NodeKind.MAP:
        return None
    for pair_key, value in mapping.pairs:
        if pair_key.is_str and pair_key.value == key:
            return Slot(key, pair_key, value, mapping)
    return None


@dataclass(frozen=True)
class _File:
    """One file and what its codops' plan puts into it."""

    f: FileLegacy
    plan: CodopsPlan
    style: Style
    root: PNode
    base_new: Optional[NewList]  # its top-level list, for its `base`
    envs_here: Tuple[Tuple[str, NewList], ...]  # the new environments written into it
    envs_pair: Optional[Slot]  # its `py_environments` key, if written in it

    @property
    def new_block(self) -> List[Tuple[str, NewList]]:
        return ([(BASE, self.base_new)] if self.base_new is not None else []) + list(self.envs_here)

    @property
    def needs_block(self) -> bool:
        """Whether a `py_environments` block must be written (the file has none and gets entries)."""
        return self.envs_pair is None and bool(self.new_block)


def rewrite(f: FileLegacy, plan: CodopsPlan, style: Style) -> FileEdits:
    """The file's new text; raises UnsafeEdit when a change cannot be made safely."""
    root = deref(f.tree.root)
    top = f.top
    here = _File(f, plan, style, root, NewList(top.items, top.after) if top is not None and top.items else None,
                 tuple((env.name, env.entries) for env in plan.new_envs if env.path == f.path),
                 own_pair(root, "py_environments"))
    if here.needs_block and root.flow:
        raise UnsafeEdit(root.start, "", "the file's top level is a flow-style mapping (`{...}`)",
                         "write the top level in block style (one key a line)")
    handled: Dict[int, str] = {}  # id of a physical endpoint/task mapping -> the `py_env` written into it
    edits, block_written = _removals(here, handled)
    edits.extend(_py_envs(here, handled))
    edits.extend(_environment_edits(here))
    if here.needs_block and not block_written:
        lines = environments_block(here.new_block, 0, style)
        edits.append(insert_block_before(f.tree, root, lines, BLOCKS, style))
    _check_anchors(f, edits)
    return FileEdits(apply(f.tree.source.text, edits), _summary(here))


def _removals(here: _File, handled: Dict[int, str]) -> Tuple[List[Edit], bool]:
    """Every legacy key goes: an endpoint's or task's own one replaced by its `py_env` when it can be,
    the top-level one by the file's new `py_environments` block when it needs one."""
    f, tree, style = here.f, here.f.tree, here.style
    edits: List[Edit] = []
    block_written = False
    for lst in f.written_lists:
        member = _owner(f, lst)
        name = here.plan.env_of(member) if member is not None else None
        mapping = deref(member.slot.value) if member is not None else None
        if name is not None and lst.slot.holder is mapping and own_pair(mapping, "py_env") is None:
            edits.extend(replace_with(tree, lst.slot, "py_env", scalar_text(name), style))
            handled[id(mapping)] = name
        elif lst is f.top and here.needs_block and lst.slot.holder is here.root:
            start, end = block_span(tree, lst.slot)
            lines = environments_block(here.new_block, tree.source.column(lst.slot.key_node.start), style)
            edits.append(Edit(start, end, "".join(line + style.nl for line in lines)))
            block_written = True
        else:
            edits.extend(remove(tree, lst.slot))
    return edits, block_written


def _py_envs(here: _File, handled: Dict[int, str]) -> List[Edit]:
    """`py_env` on every endpoint and task with a new environment (not set in place of its list)."""
    edits: List[Edit] = []
    for member in here.f.members:
        name = here.plan.env_of(member)
        mapping = deref(member.slot.value)
        if name is None or handled.get(id(mapping)) == name:
            continue
        if id(mapping) in handled:
            raise UnsafeEdit(member.slot.value.start, member.key,
                             "this mapping is shared (an alias) with another endpoint or task, which needs another "
                             f"environment (`{handled[id(mapping)]}`, not `{name}`)",
                             "write the mapping out in full here instead of the alias")
        handled[id(mapping)] = name
        existing = own_pair(mapping, "py_env")
        edits.extend(set_value(existing, scalar_text(name)) if existing is not None
                     else add_key(here.f.tree, mapping, "py_env", scalar_text(name), here.style))
    return edits


def _summary(here: _File) -> Tuple[str, ...]:
    f, plan = here.f, here.plan
    lines = [_removed_line(f, lst, plan) for lst in f.written_lists]
    for member in f.members:
        name = plan.env_of(member)
        if name is not None:
            was = f", was `{member.py_env}`" if member.py_env else ""
            lines.append(f"`{member.key}`: runs in the environment `{name}` (`py_env: {name}`{was})")
    for env in plan.new_envs:
        if env.path == f.path:
            users = " and ".join(f"the {m.kind.value} `{m.name}`" + ("" if m.path == f.path else f" ({m.path})")
                                 for m in env.members)
            lines.append(f"added the environment `{env.name}` ({_count(len(env.entries.items))}) for {users}")
    return tuple(lines)


def _environment_edits(here: _File) -> List[Edit]:
    """Appending to an existing `py_environments`: the top-level list to `base`, the new environments."""
    envs_pair, base_new = here.envs_pair, here.base_new
    if envs_pair is None:
        return []
    style = here.style
    tree, edits = here.f.tree, []
    envs_node = deref(envs_pair.value)
    new = list(here.envs_here)
    if base_new is not None:
        base_pair = own_pair(envs_node, BASE)
        if base_pair is not None:
            deps = own_pair(deref(base_pair.value), "dependencies")
            if base_pair.value.kind is NodeKind.ALIAS or deps is None:
                raise UnsafeEdit(base_pair.value.start, "py_environments.base",
                                 "the `base` environment is not written here as `{dependencies: [...]}`",
                                 "write its `dependencies` list out here")
            edits.extend(append_to_list(tree, deps, base_new, style, "py_environments.base.dependencies"))
        elif envs_node.kind is NodeKind.MAP and envs_node.pairs:
            edits.extend(add_first_environment(tree, envs_node, BASE, base_new, style))
        else:
            new.insert(0, (BASE, base_new))
    return edits + add_environments(tree, envs_pair, new, style)


def _owner(f: FileLegacy, lst: DepList) -> Optional[Member]:
    """The member whose own key (not a component's) this list is."""
    return next((m for m in f.members if m.own and m.own[0] is lst and lst.key == f"{m.key}.dependencies"), None)


def _count(n: int) -> str:
    return f"{n} {'entry' if n == 1 else 'entries'}"


def _removed_line(f: FileLegacy, lst: DepList, plan: CodopsPlan) -> str:
    if not lst.items:
        return f"removed the empty `{lst.key}`"
    if lst is f.top:
        return f"moved `{lst.key}` ({_count(len(lst.items))}) to `py_environments.base.dependencies`"
    block = next((name for name, block_list in f.blocks if block_list is lst), None)
    if block is not None:
        users = [m.name for m in f.members if m.block == block]
        if not users:
            return f"removed `{lst.key}` ({_count(len(lst.items))}): no {block[:-1]} of this file used it"
        return (f"moved `{lst.key}` ({_count(len(lst.items))}) into the environments of the {block} of this file "
                f"({', '.join(f'`{n}`' for n in users)})")
    member = next((m for m in f.members if any(own is lst for own in m.own)), None)
    name = plan.env_of(member) if member is not None else None
    return f"moved `{lst.key}` ({_count(len(lst.items))}) to the environment `{name}`"


def _check_anchors(f: FileLegacy, edits: Sequence[Edit]) -> None:
    """An anchor in removed or replaced text must not be used by an alias the migration keeps."""
    spans = [(e.start, e.end) for e in edits if e.end > e.start]
    inside = lambda index: any(start <= index < end for start, end in spans)  # noqa: E731
    anchors, aliases = anchors_and_aliases(f.tree)
    removed = {name: index for name, index in anchors if inside(index)}
    source = f.tree.source
    for name, index in aliases:
        if name in removed and not inside(index):
            raise UnsafeEdit(index, "", f"`*{name}` uses the anchor `&{name}` (line {source.lineno(removed[name])}), "
                             "which is in text the migration removes",
                             f"write the value out in place of `*{name}` (or move the anchor `&{name}` to text "
                             "that stays)")
