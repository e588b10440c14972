"""What a backend says about its own health on this machine."""

from __future__ import annotations

import attrs


@attrs.frozen
class BackendStatus:
    """Whether a backend can be used here, and why not when it cannot.

    ``detail`` is one human-readable line: what was checked, or what to do to fix it.
    """

    usable: bool
    detail: str = ""
