"""Checks of YAML values that every part of a peach config needs, each reporting a located problem.

No Pants imports.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Dict, Mapping, Optional, Sequence, Tuple

from peach.config.errors import (
    Problem,
    ProblemCollector,
    did_you_mean,
    quote_list,
    shorten,
)
from peach.config.model import NAME_RE, VALID_NAME
from peach.config.yamlload import YMap, YNode, YScalar, YSeq, type_name


class ValueChecks:
    """Checks values of one file; every problem goes to `problems`, located in `path`."""

    def __init__(self, path: str, problems: ProblemCollector) -> None:
        self.path = path
        self.problems = problems
        # (line, column) of a mapping -> the known keys its unknown keys were reported as near-misses of
        self.near_misses: Dict[Tuple[int, int], set] = defaultdict(set)

    def problem(self, node_or_line, key: str, what: str, valid: str = "", fix: str = "") -> None:
        line = node_or_line if isinstance(node_or_line, int) else node_or_line.line
        self.problems.add(Problem(self.path, line, key, what, valid, fix))

    def expect_map(self, node: YNode, key: str, valid: str) -> Optional[YMap]:
        if isinstance(node, YMap):
            return node
        if isinstance(node, YScalar) and node.value is None:
            return YMap((), node.line, node.column)
        leaf = key.rsplit(".", 1)[-1]
        if isinstance(node, YSeq):
            fix = f"write `name: value` entries indented under `{leaf}:`, without the `- ` list markers"
        else:
            fix = f"put `name: value` entries on their own lines, indented under `{leaf}:`"
        self.problem(node, key, f"must be a mapping, not {type_name(node)}", valid, fix)
        return None

    def string(self, node: YNode, key: str, valid: str, fix: str = "") -> Optional[str]:
        leaf = key.rsplit(".", 1)[-1]
        if isinstance(node, YScalar) and isinstance(node.value, str):
            if node.value.strip():
                return node.value
            self.problem(node, key, "must not be empty", valid, fix or f"write a value after `{leaf}:`")
            return None
        if isinstance(node, YScalar) and node.value is None:
            self.problem(node, key, f"must be a string, not {type_name(node)}", valid,
                         fix or f"write a value after `{leaf}:`")
            return None
        self.problem(node, key, f"must be a string, not {type_name(node)}", valid, fix or "quote the value")
        return None

    def boolean(self, node: YNode, key: str) -> Optional[bool]:
        if isinstance(node, YScalar) and isinstance(node.value, bool):
            return node.value
        self.problem(node, key, f"must be a boolean, not {type_name(node)}", "`true` or `false`",
                     "write `true` or `false` without quotes")
        return None

    def name_key(self, key_node: YScalar, parent: str, what: str) -> Optional[str]:
        value = key_node.value
        if not isinstance(value, str):
            shown = shorten(key_node.text if key_node.text is not None else str(value), 60)  # `null`, not None
            self.problem(key_node, f"{parent}.{shown}", f"the {what} name must be a string, not {type_name(key_node)}",
                         VALID_NAME, f"quote the name: `'{shown}':`")
            return None
        if not NAME_RE.match(value):
            self.problem(key_node, f"{parent}.{shorten(value, 60)}", f"`{shorten(value, 60)}` is not a valid {what} name",
                         VALID_NAME, f"rename the {what}")
            return None
        return value

    def unknown_keys(self, mapping: YMap, key: str, known: Sequence[str], strict: bool,
                     also: Mapping[str, str] = {}) -> None:
        """Near-miss keys are errors with "did you mean"; other unknown keys only when `strict`.

        `also` maps keys handled elsewhere (removed or misplaced ones) to the fix for a near-miss of them.
        """
        for key_node, _ in mapping.items():
            name = key_node.value
            if name in known or name in also:
                continue
            path = f"{key}.{shorten(str(name), 60)}" if key else shorten(str(name), 60)
            if not isinstance(name, str):
                if strict:
                    self.problem(key_node, path, f"unknown key `{name}`", f"the known keys here: {quote_list(known)}",
                                 "remove the key")
                continue
            guess = did_you_mean(name, [*known, *also])
            if guess is not None:
                self.near_misses[(mapping.line, mapping.column)].add(guess)
                fix = also.get(guess) or f"rename `{shorten(name, 60)}` to `{guess}`"
                self.problem(key_node, path, f"unknown key `{shorten(name, 60)}`; did you mean `{guess}`?",
                             f"the known keys here: {quote_list(known)}", fix)
            elif strict:
                self.problem(key_node, path, f"unknown key `{shorten(name, 60)}`", f"the known keys here: {quote_list(known)}",
                             "remove the key")

    def misspelled(self, mapping: YMap, key: str) -> bool:
        """Whether an unknown key of `mapping` was reported as a near-miss of `key` (so `key` is not "missing")."""
        return key in self.near_misses.get((mapping.line, mapping.column), ())

