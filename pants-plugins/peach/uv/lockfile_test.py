from __future__ import annotations

from peach.config.names import matches_any
from peach.uv.lockfile import audit, changes, closure, parse_lock, relocate, rename_project
from peach.uv.runner import FILE_URL_TOKEN


def PRIVATE(name: str) -> bool:
    return matches_any(name, ("pipe-*",))


LOCK = """\
version = 1
revision = 3

[[package]]
name = "pipe-algorithms-lib"
version = "{version}"
source = {{ registry = "{registry}" }}
wheels = [
    {{ url = "{wheel}", hash = "sha256:00" }},
]

[[package]]
name = "six"
version = "1.17.0"
source = {{ registry = "https://public.example.invalid/simple" }}
"""


def test_audit_accepts_private_packages_from_the_private_index() -> None:
    lock = LOCK.format(version="1.1.0", registry="http://127.0.0.1:8081/simple",
                       wheel="http://127.0.0.1:8081/packages/pipe_algorithms_lib-1.1.0-py3-none-any.whl")
    assert audit(parse_lock(lock), PRIVATE, "http://127.0.0.1:8081/simple") is None


def test_audit_catches_a_planted_public_release() -> None:
    lock = LOCK.format(version="99.0.0", registry="http://127.0.0.1:8082/simple",
                       wheel="http://127.0.0.1:8082/packages/pipe_algorithms_lib-99.0.0-py3-none-any.whl")
    assert audit(parse_lock(lock), PRIVATE, "http://127.0.0.1:8081/simple") == (
        "pipe-algorithms-lib==99.0.0 comes from http://127.0.0.1:8082/simple, not the private index "
        "http://127.0.0.1:8081/simple"
    )


def test_audit_catches_files_from_another_host() -> None:
    lock = LOCK.format(version="1.1.0", registry="http://127.0.0.1:8081/simple",
                       wheel="https://files.example.invalid/pipe_algorithms_lib-1.1.0-py3-none-any.whl")
    assert audit(parse_lock(lock), PRIVATE, "http://127.0.0.1:8081/simple") == (
        "pipe-algorithms-lib==1.1.0 has a file from https://files.example.invalid/pipe_algorithms_lib-1.1.0-py3-none-any.whl, "
        "outside the private index"
    )


def test_audit_flat_directory() -> None:
    lock = LOCK.format(version="1.1.0", registry="../../../../example/private-index", wheel="x").replace(
        '{ url = "x", hash = "sha256:00" }', '{ path = "pipe_algorithms_lib-1.1.0-py3-none-any.whl" }')
    assert audit(parse_lock(lock), PRIVATE, "../../../../example/private-index") is None


def test_audit_checks_transitive_private_packages_by_pattern() -> None:
    lock = LOCK.format(version="1.1.0", registry="http://127.0.0.1:8081/simple",
                       wheel="http://127.0.0.1:8081/packages/pipe_algorithms_lib-1.1.0-py3-none-any.whl")
    lock += '\n[[package]]\nname = "pipe-core"\nversion = "99.0.0"\nsource = { registry = "http://127.0.0.1:8082/simple" }\n'
    assert audit(parse_lock(lock), PRIVATE, "http://127.0.0.1:8081/simple") == (
        "pipe-core==99.0.0 comes from http://127.0.0.1:8082/simple, not the private index http://127.0.0.1:8081/simple")


ROOTED = """\
version = 1
revision = 3
requires-python = "==3.11.*"

[[package]]
name = "peach-zzebu-ml"
version = "0.0.0"
source = { virtual = "." }
dependencies = [
    { name = "ray", extra = ["serve"] },
    { name = "torch" },
]

[[package]]
name = "ray"
version = "2.60.0"
source = { registry = "https://public.example.invalid/simple" }
dependencies = [
    { name = "filelock" },
]

[package.optional-dependencies]
serve = [
    { name = "fastapi" },
    { name = "uvloop", marker = "sys_platform != 'win32'" },
]

[[package]]
name = "torch"
version = "2.0.0"
source = { registry = "https://public.example.invalid/simple" }
dependencies = [
    { name = "filelock" },
    { name = "triton", marker = "platform_machine == 'x86_64' and sys_platform == 'linux'" },
]

[[package]]
name = "triton"
version = "2.0.0"
source = { registry = "https://public.example.invalid/simple" }
dependencies = [{ name = "filelock" }, { name = "torch" }]

[[package]]
name = "filelock"
version = "3.0.0"
source = { registry = "https://public.example.invalid/simple" }

[[package]]
name = "fastapi"
version = "0.1.0"
source = { registry = "https://public.example.invalid/simple" }

[[package]]
name = "uvloop"
version = "0.2.0"
source = { registry = "https://public.example.invalid/simple" }
"""


def test_closure_follows_markers_and_extras() -> None:
    lock = parse_lock(ROOTED)
    assert lock.root is not None and lock.root.name == "peach-zzebu-ml"
    linux = closure(lock, lambda m: {"platform_machine == 'x86_64' and sys_platform == 'linux'": True,
                                     "sys_platform != 'win32'": True}[m])
    assert {n: i.version for n, i in linux.items()} == {
        "fastapi": "0.1.0", "filelock": "3.0.0", "ray": "2.60.0", "torch": "2.0.0", "triton": "2.0.0", "uvloop": "0.2.0"}
    assert linux["torch"].children == ("filelock", "triton")
    assert linux["ray"].children == ("fastapi", "filelock", "uvloop")
    windows = closure(lock, lambda m: False)
    assert sorted(windows) == ["fastapi", "filelock", "ray", "torch"]
    assert windows["torch"].children == ("filelock",)


def test_relocate_points_a_directory_index_at_a_root() -> None:
    text = f'index = "{FILE_URL_TOKEN}/example/private-index"'
    assert relocate(text, "/checkout/") == 'index = "file:///checkout/example/private-index"'
    assert relocate('registry = "https://x.example.invalid/simple"', "/c") == 'registry = "https://x.example.invalid/simple"'


def test_changes_between_two_locks() -> None:
    diff = changes({"a": "1", "b": "2", "c": "3"}, {"b": "2", "c": "4", "d": "5"})
    assert diff.added == (("d", "5"),) and diff.removed == (("a", "1"),) and diff.changed == (("c", "3", "4"),)
    assert diff.summary() == "1 added, 1 removed, 1 changed"
    assert diff.lines() == ["+ d==5", "- a==1", "~ c 3 -> 4"]
    assert changes({"a": "1"}, {"a": "1"}).empty


PROJECT_LOCK = """\
version = 1
revision = 3
requires-python = "==3.11.*"

[[package]]
name = "anyio"
version = "4.0.0"
source = {{ registry = "https://public.example.invalid/simple" }}

[[package]]
name = "{root}"
version = "0.0.0"
source = {{ virtual = "." }}
dependencies = [
    {{ name = "anyio" }},
    {{ name = "six" }},
]

[package.metadata]
requires-dist = [
    {{ name = "anyio" }},
    {{ name = "six", specifier = ">=1" }},
]

[[package]]
name = "six"
version = "1.17.0"
source = {{ registry = "https://public.example.invalid/simple" }}
"""


def _order(text: str) -> list:
    return [p.name for p in parse_lock(text).packages]


def test_rename_project_gives_the_other_projects_lock_in_uvs_order() -> None:
    lock = PROJECT_LOCK.format(root="peach-c-base")
    renamed = rename_project(lock, "peach-c-base", "peach-c-codops-gateway")
    assert _order(renamed) == ["anyio", "peach-c-codops-gateway", "six"]
    first = rename_project(lock, "peach-c-base", "a-first")
    assert _order(first) == ["a-first", "anyio", "six"]
    last = rename_project(lock, "peach-c-base", "zz-last")
    assert _order(last) == ["anyio", "six", "zz-last"]
    assert last.endswith('source = { registry = "https://public.example.invalid/simple" }\n\n[[package]]\n'
                         'name = "zz-last"\nversion = "0.0.0"\nsource = { virtual = "." }\ndependencies = [\n'
                         '    { name = "anyio" },\n    { name = "six" },\n]\n\n[package.metadata]\nrequires-dist = [\n'
                         '    { name = "anyio" },\n    { name = "six", specifier = ">=1" },\n]\n')
    # Renaming back gives the same bytes; only the root's name line and place changed.
    assert rename_project(last, "zz-last", "peach-c-base") == lock
    assert sorted(last.splitlines()) == sorted(lock.replace("peach-c-base", "zz-last").splitlines())
    root = parse_lock(renamed).root
    assert root is not None and root.name == "peach-c-codops-gateway" and root.requires == ("anyio", "six>=1")


def test_rename_project_refuses_what_it_cannot_rename() -> None:
    lock = PROJECT_LOCK.format(root="peach-c-base")
    for old, new in (("peach-c-other", "x"), ("anyio", "x"), ("peach-c-base", "six")):
        try:
            rename_project(lock, old, new)
        except ValueError:
            continue
        raise AssertionError(f"renamed {old} to {new}")
