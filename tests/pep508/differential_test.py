"""Dependency strings, differentially: peach against uv's own parser and a current `packaging`.

- Whatever peach accepts when it reads the configs, uv accepts, both as written and as peach
  writes it into `[project].dependencies` (uv falls back to building a project whose static
  metadata does not parse; with `--no-build` that is an error).
- Rendering never changes meaning: a current `packaging` reads what peach writes as the same name,
  extras and specifier set as the string written, and a marker with the same value in every
  environment of a grid (the oracle's GRID).
- Whatever uv or a current `packaging` rejects, peach rejects, with a located message.
- What both accept and peach rejects (URLs, `===` in markers, ...) gets a message that says peach
  does not support or allow it, never that the string is invalid.

peach may reject more (URLs, paths, pip options, overlong strings: the spec excludes them).
The strings: every dependency string of the bad-config corpus, a list of known hard cases, and a
generated corpus of more than 5,000 strings (seeded, so every run checks the same strings).
"""
from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import pytest

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
    "pkg==1.2.3.post4.*", "pkg; '3.6'inpython_version", "pkg; (python_version>'3')and(os_name=='posix')",
    "pkg; sys_platform == 'we\"ird'", "pkg; platform_version == \"a'b\"", "pkg; 'linux'in sys_platform",
    "pkg; 'a' not  in sys_platform", "pkg; os_name == 'a\\\\b'", "pkg (== 1.0 , >= 0.9)", "pkg==v1.0", "pkg~=1.0.post1",
    "pkg==1!1.0.*", "pkg!=1.0+loc", "pkg>=1.0+loc", "pkg<=1!2", "pkg; python_implementation == 'CPython'",
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
        # A string uv cannot parse makes it build the project (its static metadata is unusable): with
        # `--no-build`, an error. Any other outcome (a lock; no solution; a URL it may not fetch offline
        # or whose file name is not the package's) comes after uv parsed every string.
        if "Building source distributions is disabled" in proc.stderr or "Failed to parse" in proc.stderr:
            return False, proc.stderr
        return True, proc.stderr


def packaging_oracle(strings: List[str], pairs: List[Tuple[str, str]]) -> Tuple[List[Optional[str]], List[Optional[str]]]:
    """A current `packaging`'s verdict on each string (None: accepted), and for each pair
    (original, rendering) what it reads differently in the rendering (None: nothing), from the
    oracle pex."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as f:
        json.dump({"strings": strings, "pairs": pairs}, f)
    with tempfile.TemporaryDirectory() as pex_root:
        try:
            proc = subprocess.run([sys.executable, str(ORACLE), f.name], capture_output=True, text=True,
                                  timeout=600, env={"PATH": "/usr/bin:/bin", "PEX_ROOT": pex_root})
        finally:
            os.unlink(f.name)
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert len(answer["verdicts"]) == len(strings) and len(answer["differences"]) == len(pairs)
    return answer["verdicts"], answer["differences"]


# What peach says when it rejects a string both oracles accept: a policy, never "invalid".
INVALID_WORDS = ("not a valid", "is not a PEP 440", "invalid")


@pytest.fixture(scope="module")
def uv(tmp_path_factory) -> Uv:
    return Uv(tmp_path_factory.mktemp("uv"))


def judge(strings: List[str], uv: Uv) -> Dict[str, str]:
    """Every string on which peach disagrees with the others the wrong way, with why."""
    strings = sorted(set(strings))
    verdicts = {text: peach(text) for text in strings}
    accepted = {text: w for text, (w, _) in verdicts.items() if w is not None}
    current, differences = packaging_oracle(strings, [(text, accepted[text]) for text in sorted(accepted)])
    current_of = dict(zip(strings, current))
    wrong: Dict[str, str] = {}
    # uv on what peach writes, and on the string as written.
    written: Dict[str, List[str]] = {}
    for text, w in accepted.items():
        written.setdefault(w, []).append(text)
    for w, said in uv.rejected(sorted(written)).items():
        for text in written[w]:
            wrong[text] = f"peach accepts it and writes {w!r}, which uv rejects: {said.strip()[-300:]}"
    for text, said in uv.rejected(sorted(set(accepted) - set(wrong))).items():
        wrong[text] = f"peach accepts it, uv rejects it: {said.strip()[-300:]}"
    for text, difference in zip(sorted(accepted), differences):
        if difference is not None and text not in wrong:
            wrong[text] = f"peach writes {accepted[text]!r}, which means something else: {difference}"
    for text, (w, rejection) in verdicts.items():
        if w is not None:
            if current_of[text] is not None and text not in wrong:
                wrong[text] = f"peach accepts it, a current packaging rejects it: {current_of[text]}"
            continue
        # Rejected: the message must be located at the entry, with the key.
        located = re.search(rf"^{re.escape(FILE)}:5(:\d+)?: `{re.escape(KEY)}`: ", rejection or "", re.MULTILINE)
        if not located:
            wrong[text] = f"peach rejects it without a located message: {rejection}"
    # Rejected although both oracles accept it: the message must not call the string invalid.
    both = [t for t, (w, _) in verdicts.items() if w is None and current_of[t] is None and t not in wrong]
    uv_rejects = uv.rejected(both)
    for text in both:
        said = (verdicts[text][1] or "").split("\n")[0]
        if text not in uv_rejects and any(word in said.split("`: ", 1)[-1] for word in INVALID_WORDS):
            wrong[text] = f"peach calls it invalid, packaging and uv accept it: {said}"
    return wrong


def assert_agrees(wrong: Dict[str, str]) -> None:
    assert not wrong, f"{len(wrong)} disagreements:\n" + "\n".join(f"{k!r}: {v}" for k, v in sorted(wrong.items()))


def test_the_corpus_and_the_hard_cases(uv: Uv) -> None:
    corpus = corpus_strings()
    assert len(corpus) >= 100
    assert_agrees(judge([*corpus, *HARD_CASES], uv))


# ---------------------------------------------------------------------------------------------------
# The generated corpus
# ---------------------------------------------------------------------------------------------------

GENERATED = 6000
NAMES = ["pkg", "A.B-c_d", "x", "numpy", "Z9", "a1-b", "a_b", "pkg", "x", "numpy"]
BAD_NAMES = ["ab.", "-x", "_a", "a b"]
EXTRA_NAMES = ["x", "cuda", "Foo_Bar", "a.b", "9", "x", "cuda", "Foo_Bar", "a.b", "9", "a-"]
OPERATORS = ["==", "!=", "<=", ">=", "<", ">", "~=", "==="]
BAD_OPERATORS = ["=>", "=<", ">>", "=", "=!"]
# Suffixes every operator takes; those only `==` and `!=` take; those nothing takes.
SUFFIXES = ["", "", "", "", "a1", "b2", "rc1", ".post1", ".post4", "-1", ".dev0", "rc1.post2.dev3"]
EQUALITY_SUFFIXES = ["+local.1", "+Loc-2", ".*", ".*"]
BAD_SUFFIXES = [".post4.*", "+loc.*", "foo", ".0a", "a1.*", "+"]
VARIABLES = ["python_version", "python_full_version", "os_name", "os.name", "sys_platform", "sys.platform",
             "platform_machine", "platform.machine", "platform_system", "platform_release", "platform_version",
             "implementation_name", "implementation_version", "platform_python_implementation",
             "python_implementation", "extra"]
MARKER_OPERATORS = ["==", "!=", "<", "<=", ">", ">=", "~=", "in", "not in"] * 3 + ["==="]
# Values of the oracle's grid (so markers come out true and false), parts of them, and quote characters.
VALUES = ["3.8", "3.11", "3.12", "3", "3.11.4", "3.12.0rc1", "posix", "nt", "linux", "lin", "darwin", 'we"ird', "we",
          "x86_64", "aarch64", "Linux", "6.1.0", "SMP", "a'b", "#1 SMP a'b", "cpython", "CPython", "x", "cuda", "",
          "a b", "1!3.8", "3.*"]
BLANKS = ["", "", "", " ", " ", "  ", "\t"]


def _quoted(rng: random.Random, value: str) -> str:
    quotes = [q for q in ("'", '"') if q not in value] or ["'"]  # a value holding both quotes: invalid
    q = rng.choice(quotes)
    return f"{q}{value}{q}"


def _version(rng: random.Random, op: str) -> str:
    text = ".".join(str(rng.choice([0, 1, 2, 3, 10, 99, 2024])) for _ in range(rng.randint(1, 4)))
    if rng.random() < 0.15:
        text = f"{rng.randint(0, 2)}!{text}"
    if rng.random() < 0.05:
        text = "v" + text
    suffixes = SUFFIXES + (EQUALITY_SUFFIXES if op in ("==", "!=") else [])
    return text + (rng.choice(BAD_SUFFIXES) if rng.random() < 0.05 else rng.choice(suffixes))


def _specifier(rng: random.Random) -> str:
    clauses = []
    for _ in range(rng.choice([0, 1, 1, 1, 2, 3])):
        op = rng.choice(BAD_OPERATORS) if rng.random() < 0.04 else rng.choice(OPERATORS)
        clauses.append(op + rng.choice(BLANKS) + _version(rng, op))
    text = (rng.choice(BLANKS) + "," + rng.choice(BLANKS)).join(clauses)
    if text and rng.random() < 0.15:
        text = f"({rng.choice(BLANKS)}{text}{rng.choice(BLANKS)})"
    return text


def _marker_item(rng: random.Random) -> str:
    op = rng.choice(MARKER_OPERATORS)
    variable, value = rng.choice(VARIABLES), _quoted(rng, rng.choice(VALUES))
    left, right = (value, variable) if op in ("in", "not in") and rng.random() < 0.6 else (variable, value)
    if rng.random() < 0.1:
        left, right = right, left
    if op in ("in", "not in") and rng.random() < 0.8:
        return f"{left} {op} {right}"
    return f"{left}{rng.choice(BLANKS)}{op}{rng.choice(BLANKS)}{right}"


def _marker(rng: random.Random, depth: int = 0) -> str:
    parts = [_marker_item(rng) if depth > 1 or rng.random() < 0.7 else f"({_marker(rng, depth + 1)})"
             for _ in range(rng.choice([1, 1, 2, 3]))]
    text = parts[0]
    for part in parts[1:]:
        glue = rng.choice(["and", "or"])
        # `)and(` needs no blank; between two plain items one is needed.
        blank = rng.choice(BLANKS) if text.endswith(")") and part.startswith("(") else rng.choice([" ", "  ", "\t"])
        text += f"{blank}{glue}{blank}{part}"
    return text


def generated_string(rng: random.Random) -> str:
    text = (rng.choice(BAD_NAMES) if rng.random() < 0.02 else rng.choice(NAMES)) + rng.choice(BLANKS)
    if rng.random() < 0.3:
        extras = [rng.choice(EXTRA_NAMES) for _ in range(rng.randint(0, 3))]
        text += "[" + rng.choice(BLANKS) + (rng.choice(BLANKS) + "," + rng.choice(BLANKS)).join(extras) + "]"
    text += rng.choice(BLANKS) + _specifier(rng)
    if rng.random() < 0.6:
        text += rng.choice(BLANKS) + ";" + rng.choice(BLANKS) + _marker(rng)
    if rng.random() < 0.1:  # a mutation: an inserted, deleted or replaced character
        i = rng.randint(0, len(text))
        text = text[:i] + rng.choice(["", " ", "(", ")", "[", "]", ",", ";", "@", "#", "*", "'", '"', "."]) + \
            text[i + rng.randint(0, 1):]
    return text


def generated_corpus(count: int = GENERATED, seed: int = 508) -> List[str]:
    rng = random.Random(seed)
    found: set = set()
    while len(found) < count:
        found.add(generated_string(rng))
    return sorted(found)


def test_the_generated_corpus_covers_the_hard_forms() -> None:
    corpus = generated_corpus()
    assert len(corpus) >= 5000
    for form in ("\'we\"ird\'", ")and(", " in ", " not in ", "===", ".post4.*", "1!", "+local.1", ".*", "[",
                 "(", "\t", "~="):
        assert any(form in text for text in corpus), form


def test_generated_strings(uv: Uv) -> None:
    assert_agrees(judge(generated_corpus(), uv))
