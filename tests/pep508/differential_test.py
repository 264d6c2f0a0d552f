"""Dependency strings, differentially: peach against uv's own parser and a current `packaging`.

- Whatever peach accepts when it reads the configs, uv accepts when it locks: the entry peach writes
  into `[project].dependencies` makes a project whose static metadata uv reads (uv falls back to
  building the project when a dependency does not parse; with `--no-build` that is an error).
- Whatever uv or a current `packaging` rejects, peach rejects, with a located message.

peach may reject more (URLs, paths, pip options, overlong strings: the spec excludes them).
The strings: every dependency string of the bad-config corpus, a list of known hard cases, and
generated ones (hypothesis, derandomized).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from peach.config import ConfigError, build_model, make_settings
from peach.config.yamlload import YamlLoadError, YMap, YScalar, YSeq, load_yaml

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parent / "bad_configs"
ORACLE = HERE / "packaging-oracle.pex"
FILE = "svc/peach.yaml"
KEY = "py_environments.base.dependencies[0]"
STACK = b"ray[serve]==2.60.0\nfastapi==0.165.0\n"

HARD_CASES = [
    "torch==2.0", "numpy>=2", "numpy >= 2", "uvicorn[standard]==0.30.0", "a[b,c]>=1,<2", "A.B-c_d==1.0.post1",
    "pkg==1.0+local", "pkg===1.0", "pkg===foo", "pkg~=1", "pkg~=1.0", "pkg==1.*", "pkg!=1.0.*", "pkg<=1.*",
    "pkg>=1.*", "pkg==1.0.*.0", "pkg>>2", "pkg=>2", "pkg==", "pkg==1.0a", "pkg==v1.0", "pkg==1.0-1", "pkg==01.0",
    "pkg (>=1.0)", "pkg(>=1.0)", "pkg (==1.0, !=1.0.1)", "pkg[] ==1", "pkg[,]", "pkg[a b]", "pkg[a", "pkg]",
    "pkg; python_version >= '3.8'", 'pkg; python_version >= "3.8" and os_name == "posix"', "pkg; python_version",
    "pkg; python_version >= 3.8", "pkg; python_version >= '3.8' and", "pkg; extra == 'x'", "pkg; os.name == 'posix'",
    "pkg; sys_platform == 'linux' or (platform_machine == 'x86_64')", "pkg; 'linux' in sys_platform",
    "pkg ; python_full_version < '3.11.4'", "pkg;python_version=='3.11'", "pkg; implementation_name == 'cpython'",
    "pkg; platform_release >= '5'", "pkg; python_version ~= '3.8'", "pkg; python_version === '3.8'",
    "pkg #comment", "pkg==1.0 # comment", "pkg\\", "pkg\t==1", " pkg", "pkg ", "-pkg", "pkg-", "_pkg", "pkg.",
    "p", "0", "0pkg", "pkg@1", "pkg @ https://x.example.invalid/p-1.0-py3-none-any.whl", "pkg@file:///x",
    "https://x.example.invalid/p.whl", "git+https://x.example.invalid/p.git", "./p", "p.whl", "-e .", "--index-url x",
    "pkg==1.0,", "pkg,==1.0", "pkg==1.0;", "pkg; ", "pkg==1.0 ; ", "pkg[x]==1.0; python_version<'3.12'",
    "ПАКЕТ", "pkg\u00a0==1", "pkg==1.0\x00", "pkg==1.0\u200b", "pkg==1!2.0", "pkg==1.0.dev0", "pkg==1.0rc1.post2.dev3",
    "pkg>=1.0.0.0.0.0.0", "pkg==1.0.0-alpha", "pkg<2,>=1", "pkg >=1 ,<2", "pkg>=1 <2", "pkg==1.0 and x",
]


def corpus_strings() -> List[str]:
    """Every string in a `dependencies` list of the corpus (read with peach's loader, which stops
    the corpus' alias bombs)."""
    found: List[str] = []
    for case in sorted(CORPUS.glob("*.yaml")):
        try:
            root = load_yaml(case.name, case.read_bytes())
        except YamlLoadError:  # not UTF-8, not YAML, an alias bomb: nothing to take from it
            continue
        found.extend(_dependency_strings(root))
    return found


def _dependency_strings(node: object) -> Iterator[str]:
    if isinstance(node, YMap):
        for key, value in node.items():
            if key.value == "dependencies" and isinstance(value, YSeq):
                yield from (i.value for i in value.items if isinstance(i, YScalar) and isinstance(i.value, str))
            else:
                yield from _dependency_strings(value)
    elif isinstance(node, YSeq):
        for item in node.items:
            yield from _dependency_strings(item)


# ---------------------------------------------------------------------------------------------------
# The three judges
# ---------------------------------------------------------------------------------------------------

SETTINGS = make_settings(["implicit==0.7.2"], "stack.txt", STACK, ["pipe-algorithms-lib"], "codops-gateway")


def peach(text: str) -> Tuple[Optional[str], Optional[str]]:
    """(the requirement peach writes for uv, None) when peach accepts; (None, its message) when not."""
    config = f"codops: svc\npy_environments:\n  base:\n    dependencies:\n      - {json.dumps(text)}\n"
    try:
        model = build_model([(FILE, config.encode("utf-8"))], SETTINGS)
    except ConfigError as e:
        return None, str(e)
    except Exception as e:  # a traceback for bad input: reported as a disagreement by `judge`
        return None, f"raised {type(e).__name__}: {e}"
    base = model.get("svc").environment("base")
    written = [r.text for r in base.resolved if r.winner.source == f"{FILE}:5"]
    assert len(written) == 1, (text, base.requirements)
    return written[0], None


class Uv:
    """uv 0.13.9's verdict on a project whose only dependency is the given string."""

    def __init__(self, work: Path) -> None:
        from uv import find_uv_bin

        self.binary = find_uv_bin()
        self.work = work
        self.python = os.path.realpath(sys.executable)

    def rejected(self, texts: List[str]) -> Dict[str, str]:
        """The strings uv rejects, with its message: one uv run for all of them while it accepts them,
        halving the batch where it does not."""
        if not texts:
            return {}
        ok, said = self.accepts(texts)
        if ok:
            return {}
        if len(texts) == 1:
            return {texts[0]: said}
        half = len(texts) // 2
        return {**self.rejected(texts[:half]), **self.rejected(texts[half:])}

    def accepts(self, texts: List[str]) -> Tuple[bool, str]:
        project = self.work / "project"
        project.mkdir(exist_ok=True)
        (project / "pyproject.toml").write_text(
            '[project]\nname = "p"\nversion = "0"\nrequires-python = ">=3.8"\n'
            f"dependencies = {json.dumps(texts)}\n", encoding="utf-8")
        proc = subprocess.run(
            [self.binary, "pip", "compile", "pyproject.toml", "--offline", "--no-index", "--no-build",
             "--python", self.python, "--no-config"],
            cwd=project, capture_output=True, text=True, timeout=60,
            env={"PATH": "/usr/bin:/bin", "HOME": str(self.work), "UV_CACHE_DIR": str(self.work / "cache"),
                 "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"},
        )
        if proc.returncode == 0 or "No solution found" in proc.stderr:
            return True, proc.stderr
        assert "Building source distributions is disabled" in proc.stderr or "Failed to parse" in proc.stderr, \
            (texts, proc.stderr)
        return False, proc.stderr


def packaging_verdicts(strings: List[str]) -> List[Optional[str]]:
    """A current `packaging`'s verdict on each string (None: accepted), from the oracle pex."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as f:
        json.dump(strings, f)
    with tempfile.TemporaryDirectory() as pex_root:
        try:
            out = subprocess.run([sys.executable, str(ORACLE), f.name], capture_output=True, text=True, check=True,
                                 timeout=300, env={"PATH": "/usr/bin:/bin", "PEX_ROOT": pex_root}).stdout
        finally:
            os.unlink(f.name)
    verdicts = json.loads(out)
    assert len(verdicts) == len(strings)
    return verdicts


@pytest.fixture(scope="module")
def uv(tmp_path_factory) -> Uv:
    return Uv(tmp_path_factory.mktemp("uv"))


def judge(strings: List[str], uv: Uv) -> Dict[str, str]:
    """Every string on which peach disagrees with the others the wrong way, with why."""
    strings = sorted(set(strings))
    current = dict(zip(strings, packaging_verdicts(strings)))
    wrong: Dict[str, str] = {}
    verdicts = {text: peach(text) for text in strings}
    written: Dict[str, List[str]] = {}
    for text, (w, _) in verdicts.items():
        if w is not None:
            written.setdefault(w, []).append(text)
    for w, said in uv.rejected(sorted(written)).items():
        for text in written[w]:
            wrong[text] = f"peach accepts it and writes {w!r}, which uv rejects: {said.strip()[-300:]}"
    for text, (w, rejection) in verdicts.items():
        if w is not None:
            if current[text] is not None and text not in wrong:
                wrong[text] = f"peach accepts it, a current packaging rejects it: {current[text]}"
            continue
        # Rejected: the message must be located at the entry, with the key.
        located = re.search(rf"^{re.escape(FILE)}:5(:\d+)?: `{re.escape(KEY)}`: ", rejection or "", re.MULTILINE)
        if not located:
            wrong[text] = f"peach rejects it without a located message: {rejection}"
    return wrong


def test_the_corpus_and_the_hard_cases(uv: Uv) -> None:
    corpus = corpus_strings()
    assert len(corpus) >= 100
    assert judge([*corpus, *HARD_CASES], uv) == {}


# Requirement-like strings: mostly valid pieces, sometimes mutated.
NAMES = st.text(alphabet="abcxyzAZ019._-", min_size=1, max_size=8)
OPERATORS = st.sampled_from(["==", "!=", "<=", ">=", "<", ">", "~=", "===", "=>", "=<", ">>", "="])
MARKERS = st.sampled_from([
    "", "; python_version >= '3.8'", "; sys_platform == 'linux'", "; platform_machine == 'x86_64' and os_name == 'posix'",
    "; extra == 'x'", "; python_version", "; and", "; python_full_version < '3.11.4' or implementation_name == 'pypy'",
    ";python_version=='3.11'", "; 'a' in platform_version", "; python_version === '3.8'",
])
EXTRAS = st.lists(NAMES, max_size=2).map(lambda xs: f"[{','.join(xs)}]" if xs else "")


@st.composite
def versions(draw) -> str:
    text = ".".join(str(n) for n in draw(st.lists(st.integers(0, 99), min_size=1, max_size=4)))
    if draw(st.booleans()):
        text = f"{draw(st.integers(0, 2))}!{text}"
    text += draw(st.sampled_from(["", "a1", "b2", "rc1", ".post1", ".dev0", "+local.1", ".*", "-1", "foo"]))
    return text


@st.composite
def requirement_strings(draw) -> str:
    specs = draw(st.lists(st.tuples(OPERATORS, versions()), max_size=2))
    text = draw(NAMES) + draw(EXTRAS) + ",".join(op + v for op, v in specs) + draw(MARKERS)
    if draw(st.integers(0, 3)) == 0:  # a mutation: an inserted, deleted or swapped character
        i = draw(st.integers(0, len(text)))
        text = text[:i] + draw(st.sampled_from(["", " ", "(", ")", "[", "]", ",", ";", "@", "#", "*", "'", "\\"])) + text[i + 1:]
    return text


# Batches of generated strings (the packaging oracle runs once per batch); derandomized, so every
# run checks the same strings. No shrinking: `judge` names every string it finds wrong.
@settings(max_examples=4, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck),
          phases=[Phase.explicit, Phase.generate])
@given(st.lists(requirement_strings(), min_size=120, max_size=120))
def test_generated_strings(uv, strings: List[str]) -> None:
    assert judge(strings, uv) == {}
