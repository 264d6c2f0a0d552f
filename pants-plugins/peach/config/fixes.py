"""The fixes peach suggests for the removed inline `dependencies:` keys (semantics §5).

Each fix says where the packages go instead: the top-level list into `base`, a block's list into
`base` or a named environment, an endpoint's or task's list into an environment selected with
`py_env`. An endpoint or task that already has a `py_env` keeps it: its packages go into that
environment, or into a new one that lists that environment's packages and these.

No Pants imports.
"""
from __future__ import annotations

from typing import Optional, Sequence

from peach.config.errors import shorten
from peach.config.model import BASE, NAME_RE

MIGRATE_HINT = "or let `pants peach-migrate ::` rewrite every legacy config of the repository"


def _hint(text: str) -> str:
    return f"{text}; {MIGRATE_HINT}" if MIGRATE_HINT else text


def _yaml_list(deps: Sequence[str]) -> str:
    return "[" + shorten(", ".join(deps), 200) + "]" if deps else "[...]"


def top_level_fix(deps: Sequence[str]) -> str:
    return _hint(f"move the list to the `base` environment, which every endpoint and task inherits: "
                 f"`py_environments: {{base: {{dependencies: {_yaml_list(deps)}}}}}`")


def block_fix(block: str, deps: Sequence[str]) -> str:
    return _hint(f"move the list to an environment, `py_environments: {{base: {{dependencies: {_yaml_list(deps)}}}}}` "
                 f"for all {block}, or a named one selected with `py_env: <name>` on each of them")


def entry_fix(kind: str, name: str, deps: Sequence[str], py_env: Optional[str], endpoint: str = "") -> str:
    """The fix for a list on an endpoint, a task or (`endpoint` set) a component of that endpoint.

    `py_env` is the environment the endpoint or task already selects, if any.
    """
    owner = f"the endpoint `{endpoint}`" if endpoint else f"the {kind}"
    if py_env and py_env != BASE:
        return _hint(f"{owner} already runs in `{py_env}`: add the packages to that environment, "
                     f"`py_environments: {{{py_env}: {{dependencies: [<its packages>, {shorten(', '.join(deps), 200) or '...'}]}}}}` "
                     f"(every endpoint and task in `{py_env}` gets them), or declare a new environment that lists "
                     f"`{py_env}`'s packages and these, and set `py_env` to it")
    own = endpoint or name
    env = own if NAME_RE.match(own) and own != BASE else f"{'endpoint' if endpoint else kind}-env"
    where = f"on the endpoint `{endpoint}` (all its components run in it)" if endpoint else f"on the {kind}"
    return _hint(f"declare `py_environments: {{{env}: {{dependencies: {_yaml_list(deps)}}}}}` and set "
                 f"`py_env: {env}` {where}")
