"""The image's platforms and Python version, from the `[peach]` options."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

from pants.engine.rules import collect_rules, rule

from peach.config.errors import PackagingError
from peach.subsystem import PeachSubsystem
from peach.uv.platforms import VALID_PLATFORMS, Platform, parse_platform


@dataclass(frozen=True)
class ImagePlatforms:
    platforms: Tuple[Platform, ...]
    python_version: str

    @property
    def markers(self) -> Tuple[str, ...]:
        return tuple(p.marker for p in self.platforms)


@rule
async def image_platforms(peach: PeachSubsystem) -> ImagePlatforms:
    platforms = []
    for name in peach.platforms:
        platform = parse_platform(name)
        if platform is None:
            raise PackagingError(
                f"[peach].platforms: `{name}` is not a platform peach knows. Valid: {VALID_PLATFORMS}. "
                "Set `[peach].platforms` to the serving image's platforms."
            )
        platforms.append(platform)
    if not platforms:
        raise PackagingError(
            "[peach].platforms is empty: set it to the serving image's platforms, e.g. "
            "`platforms = [\"x86_64-manylinux_2_28\"]`."
        )
    return ImagePlatforms(tuple(platforms), peach.python_version)


def rules():
    return collect_rules()
