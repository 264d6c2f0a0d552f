"""Migrating legacy configs (semantics §8): the removed `dependencies:` keys become `py_environments`
and `py_env`, with every file rewritten in place. Plain Python, no Pants imports.

It depends on `peach.config` (reading, validating and resolving configs) and nothing in `peach.config`
depends on it. The rooms, each using only the ones before it:
`tree` (the YAML of a file with exact spans), `values` (what is read and written: entries, lists,
endpoints and tasks), `read` (reading them from one file), `files` (the files, each loaded once),
`plan` (what happens per codops), `text` (text edits), `file` (one file's edits), `verify` (checking
the result), `run` (`migrate`: the whole migration).
"""
from peach.migrate.files import FileChange, MigrationResult
from peach.migrate.run import migrate

__all__ = ["FileChange", "MigrationResult", "migrate"]
