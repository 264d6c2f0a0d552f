"""Settings: what the platform adds to every environment, from the `[peach]` option values.

No Pants imports: the Pants side hands the option values (and the framework-stack file) in.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple

from peach.config.errors import ConfigError, Problem, shorten
from peach.config.model import BASE, DEFAULT_GATEWAY_ENVIRONMENT, NAME_RE, VALID_NAME
from peach.config.requirements import (
    VALID_REQUIREMENT,
    Entry,
    RequirementSyntaxError,
    Tier,
    parse_requirement,
)
from peach.config.typed import Source


@dataclass(frozen=True)
class Settings:
    """What the platform adds to every environment; comes from the `[peach]` options."""

    injected: Tuple[Entry, ...] = ()
    framework: Tuple[Entry, ...] = ()
    private_packages: Tuple[str, ...] = ("pipe-algorithms-lib",)
    gateway_environment: str = DEFAULT_GATEWAY_ENVIRONMENT

    @property
    def framework_keys(self) -> Dict[str, Entry]:
        return {entry.req.key: entry for entry in self.framework}


def parse_option_requirements(option: str, values: Sequence[str]) -> Tuple[Entry, ...]:
    """Requirements given in an option; a bad one is a ConfigError naming the option."""
    entries, problems = [], []
    for value in values:
        try:
            entries.append(Entry(parse_requirement(value), Tier.INJECTED, Source(option)))
        except RequirementSyntaxError as e:
            problems.append(Problem(option, 0, "", f"`{shorten(value)}`: {e.what}", VALID_REQUIREMENT, e.fix))
    if problems:
        raise ConfigError(problems)
    return tuple(entries)


def make_settings(
    injected: Sequence[str],
    framework_path: str,
    framework_content: Optional[bytes],
    private_packages: Sequence[str],
    gateway_environment: str,
) -> Settings:
    """Settings from the `[peach]` option values; a bad value is a ConfigError naming the option."""
    if framework_content is None:
        raise ConfigError([Problem("[peach].framework_stack", 0, "",
                                   f"the framework stack file `{framework_path}` does not exist",
                                   "a requirements file, relative to the build root",
                                   "create the file, or point `[peach].framework_stack` at it")])
    if not NAME_RE.match(gateway_environment) or gateway_environment == BASE:
        raise ConfigError([Problem("[peach].gateway_environment", 0, "",
                                   f"`{shorten(gateway_environment, 60)}` is not a valid environment name",
                                   VALID_NAME, "choose another name")])
    return Settings(
        injected=parse_option_requirements("[peach].injected_requirements", injected),
        framework=parse_requirements_file(framework_path, framework_content, Tier.FRAMEWORK),
        private_packages=tuple(private_packages),
        gateway_environment=gateway_environment,
    )


def parse_requirements_file(path: str, content: bytes, tier: Tier) -> Tuple[Entry, ...]:
    """A requirements file (one requirement a line, `#` comments) such as the framework stack."""
    entries, problems = [], []
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError([Problem(path, 0, "", "the file is not valid UTF-8", fix="save it as UTF-8")])
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.split("#", 1)[0].strip()
        if not stripped:
            continue
        try:
            entries.append(Entry(parse_requirement(stripped), tier, Source(path, number)))
        except RequirementSyntaxError as e:
            problems.append(Problem(path, number, "", f"`{shorten(stripped)}`: {e.what}", VALID_REQUIREMENT, e.fix))
    if problems:
        raise ConfigError(problems)
    return tuple(entries)


