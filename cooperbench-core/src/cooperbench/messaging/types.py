"""Value types of the ``setup_messaging`` hook."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import TracebackType

import attrs

from cooperbench.messaging.url import redacted_repr


@attrs.frozen
class MessagingRequest:
    """What a run needs from the message bus.

    ``redis_url`` is the user's own server (``--redis URL``); when ``None`` the backend
    starts one for the run. ``git`` asks for a shared git remote as well.
    """

    run_id: str
    agent_ids: tuple[str, ...]
    git: bool = False
    redis_url: str | None = None
    labels: Mapping[str, str] = attrs.field(factory=dict, converter=dict)


@attrs.define
class MessagingSession:
    """Endpoints reachable from the run's sandboxes, and their teardown.

    ``redis_url`` carries the run namespace (``redis://host:port/db#run:<run_id>``).
    ``sandbox_options`` are extra options the run passes to every agent sandbox so it
    can reach the endpoints (for example the Docker network to join). Use as a context
    manager, or call :meth:`close` (idempotent).
    """

    redis_url: str = attrs.field(repr=redacted_repr)
    git_url: str | None = None
    sandbox_options: Mapping[str, object] = attrs.field(factory=dict)
    teardown: Callable[[], None] | None = None
    _closed: bool = False

    def close(self) -> None:
        """Stop everything the session started; calling it twice does nothing."""
        if self._closed:
            return
        self._closed = True
        if self.teardown is not None:
            self.teardown()

    def __enter__(self) -> MessagingSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
