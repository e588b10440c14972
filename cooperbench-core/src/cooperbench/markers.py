"""The pluggy markers for cooperbench hooks (``from cooperbench import hookimpl``)."""

from __future__ import annotations

import pluggy

PROJECT_NAME = "cooperbench"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
