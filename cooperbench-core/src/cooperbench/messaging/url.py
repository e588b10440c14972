"""The Redis URL handed to agents and the key layout of a run.

The URL has the form ``redis://[[user]:password@]host:port[/db]#run:<run_id>``, or
``rediss://...`` for a TLS connection; the fragment names the run, whose keys all start
with ``run:<run_id>:``. Parsing and the
key names come from :mod:`cooperbench.messaging.coop_msg`, the in-sandbox command, so
both sides of a conversation agree on them by construction.
"""

from __future__ import annotations

import attrs

from cooperbench.errors import UsageError
from cooperbench.messaging import coop_msg


@attrs.frozen
class RedisUrl:
    """A parsed Redis URL, optionally namespaced to one run; ``tls`` for ``rediss://``."""

    host: str
    port: int = coop_msg.DEFAULT_PORT
    db: int = 0
    username: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    run_id: str | None = None
    tls: bool = False

    @classmethod
    def parse(cls, url: str) -> RedisUrl:
        """Parse ``url``; a malformed one raises :class:`~cooperbench.errors.UsageError`."""
        try:
            endpoint = coop_msg.parse_redis_url(url)
        except ValueError as exc:
            raise UsageError(f"{exc}; check --redis URL") from None
        return cls(*endpoint)

    def with_run(self, run_id: str) -> RedisUrl:
        """The same server, namespaced to run ``run_id``."""
        if not run_id:
            raise UsageError("a run id must not be empty")
        return attrs.evolve(self, run_id=run_id)

    @property
    def endpoint(self) -> coop_msg.RedisEndpoint:
        """The URL's parts as ``coop-msg``'s RESP client takes them."""
        return coop_msg.RedisEndpoint(
            self.host, self.port, self.db, self.username, self.password, self.run_id, self.tls
        )

    @property
    def address(self) -> str:
        """``host:port``, as error messages show the server (never the password)."""
        return coop_msg.address(self.host, self.port)

    @property
    def namespace(self) -> str:
        """``run:<run_id>:``, the prefix of every key of the run."""
        return coop_msg.namespace(self._require_run())

    def inbox_key(self, agent_id: str) -> str:
        """``run:<run_id>:<agent_id>:inbox``, the list of ``agent_id``'s unread messages."""
        return coop_msg.inbox_key(self._require_run(), agent_id)

    @property
    def log_key(self) -> str:
        """``run:<run_id>:messages``, every message sent in the run, in send order."""
        return coop_msg.log_key(self._require_run())

    def _require_run(self) -> str:
        if not self.run_id:
            raise UsageError(
                f"Redis URL for {self.address} names no run; expected ...#run:<run_id>"
            )
        return self.run_id

    def __str__(self) -> str:
        return coop_msg.format_redis_url(self.endpoint)


def redacted_repr(url: str | None) -> str:
    """``repr`` of a Redis URL with its password replaced, for object reprs and logs."""
    if url is None:
        return "None"
    try:
        parsed = RedisUrl.parse(url)
    except UsageError:
        return "'<unparsable Redis URL>'"
    if parsed.password is None:
        return repr(url)
    return repr(str(attrs.evolve(parsed, password="REDACTED")))
