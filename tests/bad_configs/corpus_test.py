"""The bad-config corpus: every `NNN-slug.yaml` here must be rejected with exactly its `.expected` text.

Each input is loaded as the repo file `svc/peach.conf/<its file name>` and must yield exactly one
located problem; the sibling `NNN-slug.expected` holds `str(ConfigError)` word for word, followed by
one newline (the file's own line terminator, not part of the message).

The inputs are bytes exactly as a user would write them: some are deliberately not UTF-8, hold tabs,
NUL bytes or 100 KB strings, so read and write them as bytes. The files are a `resources` target
(see BUILD), which Pants places next to this module in the test sandbox, so they are found relative
to `__file__` both under `pants test` and under plain pytest.

To add a case: write the `.yaml`, run the model on it, read the message critically (located, names
the key path, says what is wrong, what is valid and the fix), then save it as the `.expected`.
"""
from __future__ import annotations

from pathlib import Path
from typing import List

import pytest

from peach.config import ConfigError, Settings, build_model, make_settings

HERE = Path(__file__).resolve().parent
CASES: List[Path] = sorted(HERE.glob("*.yaml"))
MIN_CASES = 60

# The 5 requirement lines of 3rdparty/peach/framework-stack.txt (line numbers matter: the comment
# header takes lines 1-3, as in the real file, so messages cite `framework-stack.txt:4` and on).
FRAMEWORK_STACK = (
    b"# The serve and framework stack, pinned into every peach environment.\n"
    b"# Keep in sync with the serving image; users may not declare these packages.\n"
    b"# These versions resolve together on CPython 3.11.\n"
    b"ray[serve]==2.60.0\n"
    b"fastapi==0.165.0\n"
    b"pydantic==2.14.3\n"
    b"starlette==1.10.0\n"
    b"protobuf==7.36.2\n"
)


def settings() -> Settings:
    return make_settings(
        injected=["pipe-algorithms-lib", "implicit==0.7.2"],
        framework_path="3rdparty/peach/framework-stack.txt",
        framework_content=FRAMEWORK_STACK,
        private_packages=["pipe-algorithms-lib"],
        gateway_environment="codops-gateway",
    )


def repo_path(case: Path) -> str:
    return f"svc/peach.conf/{case.name}"


def expected_message(case: Path) -> str:
    text = case.with_suffix(".expected").read_bytes().decode("utf-8")
    assert text.endswith("\n"), f"{case.with_suffix('.expected').name} must end with one newline"
    return text[:-1]


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_bad_config_is_rejected_with_the_expected_message(case: Path) -> None:
    with pytest.raises(ConfigError) as e:
        build_model([(repo_path(case), case.read_bytes())], settings())
    assert len(e.value.problems) == 1, str(e.value)
    assert str(e.value).startswith("1 problem in the peach configs:\n\n")
    assert str(e.value) == expected_message(case)


def test_the_corpus_is_large_and_every_input_is_distinct() -> None:
    assert len(CASES) >= MIN_CASES, f"only {len(CASES)} cases in {HERE.name}"
    seen = {}
    for case in CASES:
        content = case.read_bytes()
        assert content not in seen, f"{case.name} has the same bytes as {seen.get(content)}"
        seen[content] = case.name


def test_every_case_has_an_expected_file_and_a_well_formed_name() -> None:
    numbers = []
    for case in CASES:
        number, _, slug = case.stem.partition("-")
        assert len(number) == 3 and number.isdigit() and slug, case.name
        assert case.with_suffix(".expected").is_file(), f"{case.name} has no .expected file"
        numbers.append(number)
    assert len(set(numbers)) == len(numbers), "two cases share a number"
    orphans = [p.name for p in HERE.glob("*.expected") if not p.with_suffix(".yaml").is_file()]
    assert not orphans, f".expected files without an input: {orphans}"


def test_every_message_is_located() -> None:
    """Every message starts with `svc/peach.conf/<file>:<line>`, except the few whole-file ones."""
    whole_file = {"the file is empty"}
    for case in CASES:
        body = expected_message(case).split("\n\n", 1)[1]
        prefix = repo_path(case)
        assert body.startswith(prefix), case.name
        rest = body[len(prefix):]
        if rest.startswith(": ") and rest[2:].split("\n", 1)[0] in whole_file:
            continue
        assert rest[:1] == ":" and rest[1:2].isdigit(), f"{case.name}: the message is not located: {body!r}"
