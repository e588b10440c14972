"""Value types of the ``setup_messaging`` hook."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

import attrs

from cooperbench.messaging.url import redacted_repr

#: Seconds a run's messaging servers live at most when the request names no lifetime:
#: well past an agent's default lifetime (3600 s plus margin), short of a whole day.
DEFAULT_MESSAGING_LIFETIME = 6 * 3600


@attrs.frozen
class MessagingRequest:
    """What a run needs from the message bus.

    ``redis_url`` is the user's own server (``--redis URL``); when ``None`` the backend
    starts one for the run. ``git`` asks for a shared git remote as well. ``options`` are
    the run's backend options, checked and typed as for its sandboxes
    (``SandboxRequest.options``), so servers the backend starts can go where the
    agents' sandboxes go; a backend may ignore them.
    """

    run_id: str
    agent_ids: tuple[str, ...]
    git: bool = False
    redis_url: str | None = None
    labels: Mapping[str, str] = attrs.field(factory=dict, converter=dict)
    #: Seconds the servers started for the run may live at most (``None``: the backend's
    #: default). A killed harness cannot stop them; this cap does.
    lifetime: float | None = None
    options: Mapping[str, Any] = attrs.field(factory=dict, converter=dict)


@attrs.define
class MessagingSession:
    """Endpoints reachable from the run's sandboxes, and their teardown.

    ``redis_url`` carries the run namespace (``redis://host:port/db#run:<run_id>``).
    ``sandbox_options`` are extra options the run passes to every agent sandbox so it
    can reach the endpoints (for example the Docker network to join). Use as a context
    manager, or call :meth:`close` (idempotent).

    ``host_redis_url`` is the same server and namespace as the harness process reaches
    it, when that differs from ``redis_url`` (a Docker container's name resolves only on
    its network); ``None`` means ``redis_url`` works from the host too. Read the run's
    messages through :attr:`reader_url`.
    """

    redis_url: str = attrs.field(repr=redacted_repr)
    git_url: str | None = None
    sandbox_options: Mapping[str, object] = attrs.field(factory=dict)
    teardown: Callable[[], None] | None = None
    host_redis_url: str | None = attrs.field(default=None, repr=redacted_repr)
    _closed: bool = False

    @property
    def reader_url(self) -> str:
        """The URL the harness reads the run's message log through."""
        return self.host_redis_url or self.redis_url

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
