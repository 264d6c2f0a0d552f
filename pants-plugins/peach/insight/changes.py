"""What re-locking changed: `dist/peach/<codops>/lock-changes.json` and a one-line summary.

No Pants imports.
"""
from __future__ import annotations

import json
from typing import List, Mapping, Optional, Sequence

from peach.insight.sizes import SizeChange, format_change, format_size
from peach.uv.lockfile import LockChanges

SUMMARY_ITEMS = 3


NOT_COMPARED = "not compared: no committed lockfile"


def lock_changes_json(per_env: Mapping[str, Optional[LockChanges]],
                      baselines: Optional[Mapping[str, Optional[str]]] = None,
                      sizes: Mapping[str, Sequence[SizeChange]] = {}) -> dict:
    """Per environment (sorted by name): what the lock was compared with (`baseline`: the committed
    lockfile's path, or null), added, removed and changed packages, the project's requirements added
    and removed, and (from `sizes`) its download size before and after, per platform, in bytes. An
    environment without a committed lockfile is not compared."""
    environments = {}
    for env in sorted(per_env):
        baseline = (baselines or {}).get(env)
        changes = per_env[env]
        if changes is None:
            environments[env] = {"baseline": None, "summary": NOT_COMPARED, **LockChanges((), (), ()).as_json(),
                                 "requirements": {"added": [], "removed": []}}
            continue
        entry = {"baseline": baseline, "summary": changes.summary()}
        entry.update(changes.as_json())
        entry["requirements"] = {"added": list(changes.requirements_added),
                                 "removed": list(changes.requirements_removed)}
        if env in sizes:
            entry["size"] = {change.platform: change.as_json() for change in sizes[env]}
        environments[env] = entry
    return {"environments": environments}


def render_lock_changes(per_env: Mapping[str, Optional[LockChanges]],
                        baselines: Optional[Mapping[str, Optional[str]]] = None,
                        sizes: Mapping[str, Sequence[SizeChange]] = {}) -> str:
    """The text of `lock-changes.json`: stable key order, two-space indent, a final newline."""
    return json.dumps(lock_changes_json(per_env, baselines, sizes), indent=2) + "\n"


def size_text(sizes: Sequence[SizeChange]) -> str:
    """`+36.2 KiB to 2.3 GiB`, per platform when there are several (`x86_64-...: +1.0 MiB to ...`)."""
    parts = [f"{format_change(s.change)} to {format_size(s.after)}" for s in sizes]
    if len(sizes) > 1:
        parts = [f"{s.platform}: {part}" for s, part in zip(sizes, parts)]
    return "; ".join(parts)


def summary_line(env_name: str, changes: LockChanges, sizes: Sequence[SizeChange] = (),
                 items: int = SUMMARY_ITEMS) -> str:
    """`zzebu/ml: 2 added, 1 changed (torch 2.0.0 -> 2.0.1, +numpy 2.0.0, +six 1.17.0); size +1.2 MiB to 2.3 GiB`.

    The counts are LockChanges.summary(); the parenthesis shows the first `items` changes (version
    changes first, then additions, then removals), then how many more; then the size change (of
    each platform).
    """
    details: List[str] = [f"{n} {old} -> {new}" for n, old, new in changes.changed]
    details += [f"+{n} {v}" for n, v in changes.added]
    details += [f"-{n} {v}" for n, v in changes.removed]
    if not details:
        details = [f"+{r}" for r in changes.requirements_added] + [f"-{r}" for r in changes.requirements_removed]
    line = f"{env_name}: {changes.summary()}"
    if details:
        shown = details[:items]
        if len(details) > items:
            shown.append(f"and {len(details) - items} more")
        line += f" ({', '.join(shown)})"
    if sizes:
        line += f"; size {size_text(sizes)}"
    return line
