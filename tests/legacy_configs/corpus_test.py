"""The legacy-config corpus: every `cases/NNN-slug/` migrates to exactly its `after/` (or fails with
exactly its `error.txt`).

A case holds `before/`, config files laid out as repo-relative paths (`before/svc/peach.conf/a.yaml`),
and either `after/`, the expected bytes of the files after the migration (a file that does not change
may be omitted, every file that changes must be there), or `error.txt`, `str(ConfigError)` word for
word followed by one newline. Files are read and compared as bytes (some cases use CRLF).

For every case that migrates, the test also checks what the migration promises:
- running it again on its own result changes nothing;
- `build_model` accepts the result;
- every endpoint and task resolves to the same requirement list as under the old rules. The old
  rules are computed here independently of `peach.migrate`, from the plain YAML: the
  injected libraries, then per file (in path order) its `base` entries and its top-level list, then
  the entries of the environment the endpoint or task selected, its block's list (same file), its
  own list and, for an endpoint, its components' lists, then the framework stack (semantics §4, §8).

The cases are a `resources` target (see BUILD), placed next to this module by Pants, so they are
found relative to `__file__` under `pants test` and plain pytest alike. Config files here are not
read as this repo's configs: the repo's `peach_config` reads only `example/`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from bad_configs.corpus_test import settings  # the same settings as the bad-config corpus
from peach.config import ConfigError, build_model
from peach.migrate import migrate
from peach.config.requirements import Entry, Tier, parse_requirement, resolve
from peach.config.yamlload import YMap, YNode, YScalar, YSeq, load_yaml

HERE = Path(__file__).resolve().parent
CASES: List[Path] = sorted(p for p in (HERE / "cases").iterdir() if p.is_dir())
MIN_CASES = 30


def tree(directory: Path) -> Dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def before(case: Path) -> List[Tuple[str, bytes]]:
    return sorted(tree(case / "before").items())


def expected_error(case: Path) -> str:
    text = (case / "error.txt").read_bytes().decode("utf-8")
    assert text.endswith("\n"), f"{case.name}/error.txt must end with one newline"
    return text[:-1]


def migrated(case: Path) -> Dict[str, bytes]:
    files = dict(before(case))
    files.update({change.path: change.new for change in migrate(before(case), settings()).changes})
    return files


# ---------------------------------------------------------------------------------------------
# The old rules, independently
# ---------------------------------------------------------------------------------------------

def plain(node: YNode) -> object:
    if isinstance(node, YMap):
        return {key.value: plain(value) for key, value in node.items()}
    if isinstance(node, YSeq):
        return [plain(item) for item in node.items]
    return node.value if isinstance(node, YScalar) else None


def deps(mapping: object) -> List[str]:
    return list((mapping.get("dependencies") or []) if isinstance(mapping, dict) else [])


def legacy_resolution(files: List[Tuple[str, bytes]]) -> Dict[Tuple[str, str, str], Tuple[str, ...]]:
    """(codops, "endpoints"/"tasks", name) -> its requirement list under the old rules."""
    configs = [plain(load_yaml(path, content)) for path, content in sorted(files)]
    result = {}
    for codops in sorted({c["codops"] for c in configs}):
        mine = [c for c in configs if c["codops"] == codops]
        envs = [c.get("py_environments") or {} for c in mine]
        base = [d for c, e in zip(mine, envs) for d in deps(e.get("base")) + deps(c)]
        for config in mine:
            for block in ("endpoints", "tasks"):
                entries = config.get(block) or {}
                for name, entry in entries.items():
                    if name == "dependencies":
                        continue
                    env = entry.get("py_env")
                    own = [d for e in envs for d in deps(e.get(env))] if env and env != "base" else []
                    own += deps(entries) + deps(entry)
                    for component in (entry.get("components") or {}).values() if block == "endpoints" else ():
                        own += deps(component)
                    candidates = [*settings().injected, *(Entry(parse_requirement(d), Tier.BASE, "") for d in base),
                                  *(Entry(parse_requirement(d), Tier.ENVIRONMENT, "") for d in own),
                                  *settings().framework]
                    result[(codops, block, name)] = tuple(r.text for r in resolve(candidates))
    return result


def resolution_after(files: List[Tuple[str, bytes]]) -> Dict[Tuple[str, str, str], Tuple[str, ...]]:
    model = build_model(files, settings())
    result = {}
    for codops in model.codops:
        for block, entries in (("endpoints", codops.endpoints), ("tasks", codops.tasks)):
            for entry in entries:
                result[(codops.name, block, entry.name)] = codops.environment(entry.environment).requirements
    return result


# ---------------------------------------------------------------------------------------------
# The tests
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_migrates_to_exactly_its_expected_files(case: Path) -> None:
    if (case / "error.txt").exists():
        with pytest.raises(ConfigError) as e:
            migrate(before(case), settings())
        assert str(e.value) == expected_error(case)
        return
    result = migrate(before(case), settings())
    changed = {change.path: change.new for change in result.changes}
    expected = tree(case / "after")
    assert sorted(set(changed) - set(expected)) == [], "changed files missing from after/"
    originals = dict(before(case))
    for path, content in expected.items():
        assert changed.get(path, originals.get(path)) == content, path
    for change in result.changes:
        assert change.old == originals[change.path] and change.new != change.old and change.summary


@pytest.mark.parametrize("case", [c for c in CASES if not (c / "error.txt").exists()],
                         ids=[c.name for c in CASES if not (c / "error.txt").exists()])
def test_case_result_is_valid_idempotent_and_resolves_as_before(case: Path) -> None:
    files = sorted(migrated(case).items())
    assert migrate(files, settings()).changes == ()
    assert resolution_after(files) == legacy_resolution(before(case))


def test_the_corpus_is_large_and_well_formed() -> None:
    assert len(CASES) >= MIN_CASES, f"only {len(CASES)} cases"
    numbers = [case.name.split("-", 1)[0] for case in CASES]
    assert all(len(n) == 3 and n.isdigit() for n in numbers) and len(set(numbers)) == len(numbers)
    for case in CASES:
        assert (case / "before").is_dir(), case.name
        assert (case / "after").is_dir() != (case / "error.txt").is_file(), f"{case.name}: after/ or error.txt"
