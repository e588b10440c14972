"""Identifiers, tokens and Docker labels of the stand-in."""

from __future__ import annotations

import base64
import json
import secrets
import time

#: Every container and network the stand-in creates carries this label ...
LABEL = "modal-standin"
#: ... and this one, naming the stand-in instance that owns it.
LABEL_INSTANCE = "modal-standin.instance"
#: The process id and host name of the owner, so a later instance can tell a dead owner.
LABEL_PID = "modal-standin.pid"
LABEL_HOST = "modal-standin.host"
LABEL_SANDBOX = "modal-standin.sandbox_id"
LABEL_APP = "modal-standin.app_id"

#: Seconds the tokens the stand-in mints stay valid; the SDK refreshes at about half of it.
TOKEN_LIFETIME = 24 * 3600


def new_id(prefix: str) -> str:
    """A fresh object id such as ``sb-<32 hex>``.

    Sandbox ids must not look like V1 ids (``sb-`` and exactly 22 base62 characters):
    the SDK picks the V1 or V2 RPCs for ``Sandbox.from_id`` from that shape alone.
    """
    return f"{prefix}-{secrets.token_hex(16)}"


def new_task_id() -> str:
    """A task id; a trailing ``V`` marks a V2 task, as real Modal's do."""
    return f"ta-{secrets.token_hex(15)}V"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint_jwt(subject: str) -> str:
    """An unsigned token shaped like a JWT.

    The SDK never verifies these tokens, but it parses the payload's ``exp`` to know when
    to refresh, and refuses a token that is not three dot-separated base64url parts.
    """
    header = _b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    claims = {"sub": subject, "exp": int(time.time()) + TOKEN_LIFETIME}
    payload = _b64url(json.dumps(claims).encode())
    return f"{header}.{payload}.{_b64url(b'modal-standin')}"
