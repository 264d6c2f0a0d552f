from peach.config.requirements import Declaration, Provenance
from peach.environments.failure import explanation, is_resolution_failure, named_packages, resolution_failure

# uv 0.13's words, as it prints them without a terminal.
NUMPY = """\
Using CPython 3.11.7 interpreter at: /usr/bin/python3.11
  × No solution found when resolving dependencies:
  ╰─▶ Because there is no version of numpy==0.0.1 and your project depends on numpy==0.0.1, we can
      conclude that your project's requirements are unsatisfiable.
"""
PANDAS = """\
error: No solution found when resolving dependencies
  cause: Because pandas==2.2.0 depends on numpy>=1.23.2,<2 and your project depends on numpy<1.20, we can conclude that pandas==2.2.0 and your project are incompatible.
         And because your project depends on pandas==2.2.0, we can conclude that your project's requirements are unsatisfiable.
"""

PROVENANCE = (
    Provenance("six", "six", "base", "acme/peach.conf/envs.yaml:4"),
    Provenance("numpy==0.0.1", "numpy", "environment", "acme/peach.conf/envs.yaml:7",
               replaced=(Declaration("numpy>=1", "base", "acme/peach.conf/envs.yaml:5"),)),
    Provenance("protobuf==7.36.2", "protobuf", "framework", "peach/framework-stack.txt, built in:3"),
)


def test_a_missing_version_names_each_declaration_and_the_pin_to_change() -> None:
    assert is_resolution_failure(NUMPY)
    text = resolution_failure("acme/ml", NUMPY, PROVENANCE, ("acme/peach.conf/envs.yaml",), "wheels")
    assert text.startswith("environment `acme/ml`: its requirements cannot be satisfied together")
    assert "  `numpy==0.0.1` (environment, acme/peach.conf/envs.yaml:7)\n" in text
    assert "  `numpy>=1` (base, acme/peach.conf/envs.yaml:5)\n" in text
    assert "six" not in text  # uv does not name it
    assert "there is no version of numpy==0.0.1" in text
    assert "/usr/bin/python3.11" not in text  # uv's preamble is not the explanation
    assert text.endswith(
        "To fix it, loosen or remove the pin `numpy==0.0.1` at acme/peach.conf/envs.yaml:7; "
        "or loosen or remove the pin `numpy>=1` at acme/peach.conf/envs.yaml:5.")


def test_a_conflict_with_a_transitive_requirement_names_both_packages_uv_names() -> None:
    provenance = (Provenance("pandas==2.2.0", "pandas", "environment", "a.yaml:3"),
                  Provenance("numpy<1.20", "numpy", "base", "a.yaml:2"))
    text = resolution_failure("acme/ml", PANDAS, provenance, ("a.yaml",), "wheels")
    assert "  `pandas==2.2.0` (environment, a.yaml:3)\n  `numpy<1.20` (base, a.yaml:2)\n" in text
    assert "To fix it, loosen or remove the pin `pandas==2.2.0` at a.yaml:3; or loosen or remove the pin " \
           "`numpy<1.20` at a.yaml:2." in text


def test_the_framework_stack_is_not_the_users_to_change() -> None:
    stderr = "× No solution found when resolving dependencies:\n╰─▶ Because protobuf==7.36.2 conflicts ...\n"
    text = resolution_failure("acme/ml", stderr, PROVENANCE, (), "wheels")
    assert "is the framework stack's (peach/framework-stack.txt, built in:3), fixed by the image" in text


def test_without_a_package_peach_knows_the_fix_names_the_files() -> None:
    stderr = "× No solution found when resolving dependencies:\n╰─▶ Because torchx depends on nothing-here\n"
    text = resolution_failure("acme/ml", stderr, PROVENANCE, ("a.yaml", "b.yaml"), "wheels")
    assert "Declared in the configs" not in text
    assert text.endswith("To fix it, loosen or remove the pins uv names above in a.yaml, b.yaml.")


def test_long_explanations_are_shortened_and_names_are_matched_canonically() -> None:
    stderr = "× No solution found when resolving dependencies:\n" + "".join(f"╰─▶ line {i}\n" for i in range(20))
    lines = explanation(stderr)
    assert len(lines) == 8 and lines[-1] == "... (13 more lines of uv's)"
    assert named_packages("Because Typing_Extensions==4 and zope.interface", ["typing-extensions", "zope-interface",
                                                                             "six"]) == ["typing-extensions",
                                                                                         "zope-interface"]
    assert not is_resolution_failure("error: Failed to fetch: `https://index/simple/x/`")


def test_a_platform_of_the_image_that_finds_no_solution_is_named() -> None:
    text = resolution_failure("acme/ml", NUMPY, PROVENANCE, ("acme/peach.conf/envs.yaml",), "wheels",
                              platform="aarch64-manylinux_2_28")
    assert text.startswith("environment `acme/ml`: its requirements cannot be satisfied together on the platform "
                           "aarch64-manylinux_2_28 (uv found no solution; private index: wheels).")
    assert "  `numpy==0.0.1` (environment, acme/peach.conf/envs.yaml:7)\n" in text
