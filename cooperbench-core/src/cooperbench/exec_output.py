"""Keeping a command's output under a cap, so a command that prints gigabytes cannot grow
the harness's memory with it.

Backends feed each stream of a command into a :class:`CappedOutput` as it arrives. It
keeps the first quarter of the limit (how the command started) and the last three
quarters (where reports, failure summaries and tracebacks are printed), counts what it
dropped between them, and renders the kept bytes with a one-line marker at the cut.
"""

from __future__ import annotations

from cooperbench.errors import UsageError

#: Bytes of each stream (stdout, stderr) of one command kept by default: 16 MiB.
DEFAULT_OUTPUT_LIMIT = 16 * 1024 * 1024
#: The smallest limit accepted: below it the head, the tail and the marker would not
#: leave anything readable.
MIN_OUTPUT_LIMIT = 1024


def check_output_limit(limit: int) -> int:
    """Return ``limit`` if it is a usable output limit, else raise :class:`UsageError`."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < MIN_OUTPUT_LIMIT:
        raise UsageError(
            f"output_limit must be a whole number of bytes of at least {MIN_OUTPUT_LIMIT}, "
            f"not {limit!r}"
        )
    return limit


def truncation_marker(dropped: int) -> bytes:
    """The line put where ``dropped`` bytes were left out of a stream."""
    return f"\n[... {dropped} bytes of output dropped (over the output limit) ...]\n".encode()


class CappedOutput:
    """One output stream, of which at most ``limit`` bytes are kept: its head and tail.

    Memory stays below about twice the limit however much is fed: the tail is trimmed
    whenever it has grown to twice its share, which keeps trimming cheap (each byte is
    moved at most once) even when the command writes in tiny pieces.
    """

    def __init__(self, limit: int = DEFAULT_OUTPUT_LIMIT) -> None:
        check_output_limit(limit)
        self.limit = limit
        self._head_room = limit // 4
        self._tail_room = limit - self._head_room
        self._head = bytearray()
        self._tail = bytearray()
        #: Bytes fed so far, kept or not.
        self.total = 0

    def append(self, data: bytes | bytearray | memoryview) -> None:
        """Add the next bytes of the stream."""
        view = memoryview(data).cast("B")
        self.total += len(view)
        room = self._head_room - len(self._head)
        if room > 0:
            self._head += view[:room]
            view = view[room:]
        if not view:
            return
        if len(view) >= self._tail_room:
            self._tail[:] = view[-self._tail_room :]
            return
        self._tail += view
        if len(self._tail) >= 2 * self._tail_room:
            del self._tail[: len(self._tail) - self._tail_room]

    @property
    def head(self) -> bytes:
        """The first bytes of the stream (up to a quarter of the limit)."""
        return bytes(self._head)

    @property
    def dropped(self) -> int:
        """How many bytes were left out (0 while the stream fits the limit)."""
        return max(0, self.total - self.limit)

    def render(self) -> bytes:
        """The kept bytes; when some were dropped, head, marker line and tail."""
        dropped = self.dropped
        if not dropped:
            return bytes(self._head + self._tail)
        return (
            bytes(self._head) + truncation_marker(dropped) + bytes(self._tail[-self._tail_room :])
        )
