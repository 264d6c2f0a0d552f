from __future__ import annotations

import pytest

from peach.config import requirements
from peach.config.requirements import (
    Entry,
    RequirementSyntaxError,
    UV_MARKER_SEPARATOR,
    canonical_name,
    parse_requirement,
    render_requirement,
    resolve,
)


def entries(tier: str, *texts: str) -> list:
    return [Entry(parse_requirement(t), tier, f"{tier}.yaml:{i + 1}") for i, t in enumerate(texts)]


def final(*groups) -> tuple:
    return tuple(r.text for r in resolve([e for g in groups for e in g]))


@pytest.mark.parametrize(
    "name", ["Pipe.Algorithms.Lib", "pipe_algorithms_lib", "pipe-algorithms-lib", "PIPE--ALGORITHMS__LIB"]
)
def test_canonical_name(name: str) -> None:
    assert canonical_name(name) == "pipe-algorithms-lib"


def test_parse_keeps_parts() -> None:
    req = parse_requirement(" uvicorn[standard,foo] >= 0.30 ; python_version >= '3.9' ")
    assert (req.name, req.key, req.extras, req.specifier) == ("uvicorn", "uvicorn", ("foo", "standard"), ">=0.30")
    assert req.marker == 'python_version >= "3.9"'
    assert req.render() == 'uvicorn[foo,standard]>=0.30; python_version >= "3.9"'
    assert parse_requirement("httpx").is_bare


@pytest.mark.parametrize(
    "text, what",
    [
        ("", "the dependency is an empty string"),
        ("-e ./pkg", "pip options (`-e`, `-r`, `--index-url`, ...) are not dependencies"),
        ("--index-url https://example.invalid/simple", "pip options (`-e`, `-r`, `--index-url`, ...) are not dependencies"),
        ("git+https://example.invalid/org/repo.git", "URL requirements are not allowed"),
        ("https://example.invalid/pkg-1.0.tar.gz", "URL requirements are not allowed"),
        ("pkg @ git+https://example.invalid/org/repo.git", "URL requirements (`name @ url`) are not allowed"),
        ("./pkg", "path requirements are not allowed"),
        ("../libs/pkg", "path requirements are not allowed"),
        ("/abs/pkg", "path requirements are not allowed"),
        ("pkg-1.0-py3-none-any.whl", "path requirements are not allowed"),
        ("x" * 501, "the dependency is 501 characters long (at most 500)"),
    ],
)
def test_rejected_forms(text: str, what: str) -> None:
    with pytest.raises(RequirementSyntaxError) as e:
        parse_requirement(text)
    assert e.value.what == what


def test_legacy_specifier_is_rejected() -> None:
    with pytest.raises(RequirementSyntaxError) as e:
        parse_requirement("numpy>>2")
    assert e.value.what == "`>>2` is not a PEP 440 version specifier"


def test_invalid_pep508_says_why() -> None:
    with pytest.raises(RequirementSyntaxError) as e:
        parse_requirement("numpy[")
    assert e.value.what.startswith("not a valid PEP 508 requirement (")
    assert e.value.fix == "write `name`, `name==1.2.3` or `name>=1,<2`"


def test_non_base_pin_wins() -> None:
    assert final(entries("base", "tqdm==4.68.3"), entries("environment", "tqdm==4.68.2")) == ("tqdm==4.68.2",)


def test_non_base_range_wins_over_base_pin() -> None:
    assert final(entries("base", "tqdm==4.68.3"), entries("environment", "tqdm>=4.60")) == ("tqdm>=4.60",)


def test_bare_dropped_when_any_entry_is_specified() -> None:
    assert final(entries("base", "tqdm==4.68.3"), entries("environment", "tqdm")) == ("tqdm==4.68.3",)
    assert final(entries("base", "tqdm"), entries("environment", "tqdm==1")) == ("tqdm==1",)


def test_all_bare_keeps_one() -> None:
    assert final(entries("base", "Tqdm"), entries("environment", "tqdm")) == ("tqdm",)


def test_extras_are_unioned_and_position_is_first_appearance() -> None:
    result = final(
        entries("base", "uvicorn[standard]", "httpx"),
        entries("environment", "numpy", "uvicorn==0.30.0"),
    )
    assert result == ("uvicorn[standard]==0.30.0", "httpx", "numpy")


def test_last_entry_wins_marker_too() -> None:
    result = final(
        entries("base", "foo==1; python_version < '3.12'"),
        entries("environment", "foo==2"),
    )
    assert result == ("foo==2",)


def test_names_compare_after_normalisation() -> None:
    result = final(entries("injected", "pipe-algorithms-lib"), entries("base", "Pipe_Algorithms.Lib==1.0.0"))
    assert result == ("Pipe_Algorithms.Lib==1.0.0",)


def test_provenance_names_winner_and_losers() -> None:
    resolved = resolve(entries("base", "tqdm==4.68.3", "uvicorn[standard]") + entries("environment", "tqdm==4.68.2", "uvicorn==0.30"))
    assert [r.provenance().summary() for r in resolved] == [
        "tqdm==4.68.2 <- environment (environment.yaml:1); replaced `tqdm==4.68.3` (base, base.yaml:1)",
        "uvicorn[standard]==0.30 <- environment (environment.yaml:2); dropped bare `uvicorn[standard]` (base, base.yaml:2); "
        "extras from `uvicorn[standard]` (base, base.yaml:2)",
    ]


def test_same_string_twice_is_not_a_replacement() -> None:
    (resolved,) = resolve(entries("base", "a==1", "a==1"))
    assert resolved.replaced == ()
    assert resolved.provenance().summary() == "a==1 <- base (base.yaml:2)"


def test_one_renderer_spells_every_requirement() -> None:
    req = parse_requirement("Pipe_Lib[b,a,b] ; python_version >= '3.11'")
    assert req.render() == "Pipe_Lib[a,b]; python_version >= \"3.11\""
    assert req.pinned("1.1.0") == "Pipe_Lib[a,b]==1.1.0; python_version >= \"3.11\""
    assert parse_requirement("numpy").pinned("2.0.0") == "numpy==2.0.0"
    assert render_requirement("six", ("x",), "==1.17.0", "sys_platform == 'linux'", UV_MARKER_SEPARATOR) == (
        "six[x]==1.17.0 ; sys_platform == 'linux'")
    assert render_requirement("six") == "six"


def test_resolution_keeps_the_order_of_first_declaration() -> None:
    groups = [entries("base", "b", "a==1", "c[x]"), entries("environment", "a==2", "c==3", "d")]
    assert final(*groups) == ("b", "a==2", "c[x]==3", "d")


@pytest.mark.parametrize("text, what", [
    ("a==0!1,=0!0.73", "`=0!0.73` is not a PEP 440 version specifier"),  # packaging 21.3 raised InvalidSpecifier
    ("pkg===foo", "`===foo` compares with a string that is not a version, which uv rejects"),
    ("pkg; python_version === '3.8'", "the marker compares with `===`, which uv rejects in markers"),
    # packaging 21.3 took these; a current packaging (and uv) does not.
    ("pkg==1.2.3.post4.*", "not a valid PEP 508 requirement (.* suffix cannot be used with pre-release"),
    ("pkg; '3.6'inpython_version", "not a valid PEP 508 requirement (Expected marker operator"),
    ("pkg>=1.0+local", "not a valid PEP 508 requirement (Local version label can only be used with"),
    ("pkg_ ==1", "`pkg_` is not a valid package name"),
    ("pkg[x_]", "`x_` is not a valid extra"),
    ("pkg===1.0,=2", "`=2` is not a PEP 440 version specifier"),
])
def test_strings_uv_would_reject_are_rejected(text: str, what: str) -> None:
    with pytest.raises(RequirementSyntaxError) as e:
        parse_requirement(text)
    assert e.value.what.startswith(what) or what in e.value.what


@pytest.mark.parametrize("text, rendered", [
    # A single-quoted value holding `"` keeps its quotes (packaging 21.3 wrote `"we"ird"`).
    ("pkg; sys_platform == 'we\"ird'", "pkg; sys_platform == 'we\"ird'"),
    ("pkg; platform_version == \"a'b\"", "pkg; platform_version == \"a'b\""),
    # packaging 21.3 rejected these; a current packaging and uv take them.
    ("pkg; (python_version>'3')and(os_name=='posix')", 'pkg; python_version > "3" and os_name == "posix"'),
    ("pkg; ((os_name=='nt')or(os_name=='posix'))and python_version<'3.12'",
     'pkg; (os_name == "nt" or os_name == "posix") and python_version < "3.12"'),
    ("pkg; 'lin' not\tin sys_platform", 'pkg; "lin" not in sys_platform'),
    ("pkg (== 1.0 , >= 0.9)", "pkg==1.0,>=0.9"),
    ("A.B[y, x] == 1!2.0.* ; os.name == 'posix'", 'A.B[x,y]==1!2.0.*; os_name == "posix"'),
    ("pkg==1.0+Local.7", "pkg==1.0+Local.7"),
])
def test_rendering_keeps_the_meaning(text: str, rendered: str) -> None:
    assert parse_requirement(text).render() == rendered


def test_a_marker_backslash_is_not_supported_rather_than_a_path() -> None:
    with pytest.raises(RequirementSyntaxError) as e:
        parse_requirement("pkg; os_name == 'a\\\\b'")
    assert e.value.what.startswith("the marker holds a backslash: peach does not support it")


def test_arbitrary_equality_with_a_version_is_fine() -> None:
    assert parse_requirement("pkg===1.0").specifier == "===1.0"


SIMPLE_FORMS = [
    "numpy", "NumPy", "a.b_c-d", "numpy>=2", "numpy >= 2", "numpy>=1.0,<2", "numpy >=1 , <2", "torch==2.0",
    "x~=1.2", "x!=1", "x<1", "x>1", "x==01.0", "x<=3.10.0,>=3.8,!=3.9.1",
]
OTHER_FORMS = ["x~=1", "x==1.0.*", "x[extra]>=1", "x>=1; python_version<'3.12'", "x===1.0", "x>=1.0a1",
               "x>>2", "x==foo", "x@https://h/x.whl", "-x", "x.", "x y", "pkg\xa0==1", "pkg==\u0661"]


def test_the_fast_path_reads_what_the_full_grammar_reads(monkeypatch) -> None:
    fast = {text: requirements._simple(text) for text in SIMPLE_FORMS}
    assert all(fast.values()), [t for t, r in fast.items() if r is None]
    monkeypatch.setattr(requirements, "_simple", lambda text: None)
    parse_requirement.cache_clear()
    try:
        for text in SIMPLE_FORMS:
            assert parse_requirement(text) == fast[text], text
    finally:
        parse_requirement.cache_clear()


def test_other_forms_take_the_full_grammar() -> None:
    assert [t for t in OTHER_FORMS if requirements._simple(t) is not None] == []
