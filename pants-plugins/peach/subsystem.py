"""The `[peach]` options."""
from __future__ import annotations

from pants.option.option_types import StrListOption, StrOption
from pants.option.subsystem import Subsystem
from pants.util.strutil import softwrap

from peach.config import DEFAULT_GATEWAY_ENVIRONMENT


class PeachSubsystem(Subsystem):
    options_scope = "peach"
    help = softwrap(
        """
        Options for the peach plugin, which turns `peach.conf/*.yaml` files into one Python
        environment (a uv project) per codops and environment.
        """
    )

    injected_requirements = StrListOption(
        default=["pipe-algorithms-lib", "implicit==0.7.2"],
        help=softwrap(
            """
            Runtime libraries added to every codops' `base` environment (and so, by inheritance, to
            every environment). A bare name of a private package (see `private_packages`) is pinned
            to the private index's latest release when the environment is packaged. A user pin of
            the same package in `base` replaces the injected entry.
            """
        ),
    )
    framework_stack = StrOption(
        default="3rdparty/peach/framework-stack.txt",
        help=softwrap(
            """
            Path, relative to the build root, of a requirements file (one requirement a line, `#`
            comments) with the serve and framework stack pinned into every environment, in sync
            with the serving image. Users may not declare these packages themselves.
            """
        ),
    )
    private_packages = StrListOption(
        default=["pipe-algorithms-lib"],
        help=softwrap(
            """
            Packages that come only from the private index: names or shell-style patterns
            (`pipe-*`), compared after PEP 503 normalisation. When packaging, each is pinned to the
            private index in `[tool.uv.sources]`, and a bare one is pinned to its latest release.
            """
        ),
    )
    gateway_environment = StrOption(
        default=DEFAULT_GATEWAY_ENVIRONMENT,
        advanced=True,
        help=softwrap(
            """
            Name of the internal environment built for every codops' CodopsGateway. It holds the
            `base` environment's requirements. User environments may not take this name.
            """
        ),
    )
