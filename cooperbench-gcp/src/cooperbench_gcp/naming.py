"""Names and labels under Google Cloud's rules, and the owner labels read back from them.

Job ids are ``[a-z]([a-z0-9-]{0,61}[a-z0-9])?``; label keys ``[a-z][a-z0-9_-]{0,62}``
and values ``[a-z0-9_-]{0,63}``. cooperbench's owner labels (``cooperbench.owner-pid``,
a host name with dots and capitals, a run name with anything) are mapped onto those.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping

from cooperbench.plugin import labels as owner

#: Label on every job and object prefix this backend creates.
MANAGED_LABEL = "cooperbench-managed"
#: The evaluation's id; its files live under ``cooperbench/<id>/`` in the bucket.
EVAL_LABEL = "cooperbench-eval"
#: Where the run's files live in the bucket.
BUCKET_ROOT = "cooperbench"

_INVALID = re.compile(r"[^a-z0-9_-]+")


def label_key(key: str) -> str:
    """``key`` as a valid label key (``cooperbench.owner-pid`` -> ``cooperbench-owner-pid``)."""
    cleaned = _INVALID.sub("-", key.lower()).strip("-_") or "key"
    if not cleaned[0].isalpha():
        cleaned = f"k{cleaned}"
    return cleaned[:63]


def label_value(value: str) -> str:
    """``value`` as a valid label value (lower case, other characters as ``-``, 63 at most)."""
    return _INVALID.sub("-", value.lower())[:63]


def gcp_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """``labels`` under GCP's rules."""
    return {label_key(k): label_value(v) for k, v in labels.items()}


def owner_alive(labels: Mapping[str, str]) -> bool:
    """Whether the process that owns a resource with these GCP ``labels`` still runs."""
    host = labels.get(label_key(owner.OWNER_HOST), "")
    # The label holds the mangled host name; compare it with ours, mangled the same way.
    real_host = socket.gethostname() if host == label_value(socket.gethostname()) else host
    return owner.owner_is_alive(
        {owner.OWNER_HOST: real_host, owner.OWNER_PID: labels.get(label_key(owner.OWNER_PID), "")}
    )


def job_id(eval_id: str, image: str, index: int) -> str:
    """A job id for the ``index``-th image of an evaluation: unique, readable, valid."""
    slug = _INVALID.sub("-", image.lower().rsplit("/", 1)[-1]).replace("_", "-").strip("-")
    head = f"{eval_id}-{index}-"
    return (head + slug)[:63].rstrip("-")


def eval_prefix(eval_id: str) -> str:
    """The bucket prefix of an evaluation's files (no trailing slash)."""
    return f"{BUCKET_ROOT}/{eval_id}"
