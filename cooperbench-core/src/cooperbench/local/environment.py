"""The environment commands of a local sandbox start from.

The harness's own environment holds things agents and tests must not see or depend on
(API keys, cloud credentials, the user's tool settings), so commands get an explicit,
minimal one instead: ``PATH`` and ``HOME`` of the host (the tools and interpreters to
run are the host's), the host's locale (``LANG``/``LC_ALL``, else ``C.UTF-8``) and a
``TMPDIR`` inside the sandbox. The request's and the exec's variables are added on top.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

#: Host variables handed to every command when the host has them.
PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL")
#: Locale used when the host sets none.
DEFAULT_LOCALE = "C.UTF-8"


def base_environment(tmpdir: Path, host: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables every command of a sandbox starts with; ``host`` defaults to ours."""
    source = os.environ if host is None else host
    env = {name: source[name] for name in PASSED_THROUGH if source.get(name)}
    env.setdefault("PATH", os.defpath)
    if "LANG" not in env and "LC_ALL" not in env:
        env["LANG"] = DEFAULT_LOCALE
    env["TMPDIR"] = str(tmpdir)
    return env
