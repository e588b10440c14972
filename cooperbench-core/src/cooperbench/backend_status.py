"""What a backend says about its own health on this machine."""

from __future__ import annotations

import attrs

#: The words ``cooperbench backends`` shows for a backend that loaded.
USABLE = "usable"
UNUSABLE = "unusable"


@attrs.frozen
class BackendStatus:
    """Whether a backend can be used here, and why not when it cannot.

    ``detail`` is one human-readable line: what was checked, or what to do to fix it.
    """

    usable: bool
    detail: str = ""

    @property
    def state(self) -> str:
        """``usable`` or ``unusable``, as ``cooperbench backends`` shows it."""
        return USABLE if self.usable else UNUSABLE
