"""uv, installed through Pants from its own locked resolve and run as a sandboxed process."""
from __future__ import annotations

from pants.backend.python.subsystems.python_tool_base import PythonToolBase
from pants.backend.python.target_types import ConsoleScript
from pants.util.strutil import softwrap

UV_VERSION = "0.13.9"


class UvTool(PythonToolBase):
    options_scope = "uv"
    name = "uv"
    help = softwrap(
        """
        The uv package manager, which locks each peach environment. Installed from PyPI through
        Pants (set `install_from_resolve` to a resolve that pins `uv`), never taken from `PATH`.
        """
    )
    default_version = f"uv=={UV_VERSION}"
    default_requirements = [f"uv=={UV_VERSION}"]
    default_main = ConsoleScript("uv")
    register_interpreter_constraints = True
    default_interpreter_constraints = ["CPython>=3.9,<4"]
    default_lockfile_resource = ("peach", "uv.lock")

    @property
    def version_number(self) -> str:
        """The uv version the projects require (`[tool.uv].required-version`)."""
        return UV_VERSION
