"""The output cap: what a stream keeps, what it drops, and how the cut is marked."""

from __future__ import annotations

import pytest

from cooperbench.errors import UsageError
from cooperbench.exec_output import (
    DEFAULT_OUTPUT_LIMIT,
    MIN_OUTPUT_LIMIT,
    CappedOutput,
    truncation_marker,
)
from cooperbench.sandbox import ExecResult, SandboxRequest


def test_output_within_the_limit_is_kept_whole() -> None:
    capped = CappedOutput(4096)
    for piece in (b"a" * 1000, b"b" * 2000, b"c" * 1096):
        capped.append(piece)
    assert capped.dropped == 0
    assert capped.render() == b"a" * 1000 + b"b" * 2000 + b"c" * 1096


def test_output_over_the_limit_keeps_a_quarter_head_and_the_rest_tail() -> None:
    stream = bytes(range(256)) * 400  # 102400 bytes, every offset recognisable
    capped = CappedOutput(4096)
    capped.append(stream)
    assert capped.total == len(stream)
    assert capped.dropped == len(stream) - 4096
    assert capped.render() == stream[:1024] + truncation_marker(capped.dropped) + stream[-3072:]


@pytest.mark.parametrize("size", [1, 7, 1000, 5000])
def test_pieces_of_any_size_give_the_same_result(size: int) -> None:
    stream = bytes(i % 251 for i in range(50_000))
    whole, pieces = CappedOutput(2048), CappedOutput(2048)
    whole.append(stream)
    for start in range(0, len(stream), size):
        pieces.append(stream[start : start + size])
    assert pieces.render() == whole.render()
    assert pieces.dropped == whole.dropped == len(stream) - 2048
    # Memory stays bounded: the tail is trimmed as it grows.
    assert len(pieces._tail) < 2 * 2048


def test_marker_is_one_line_naming_the_dropped_bytes() -> None:
    marker = truncation_marker(12345).decode()
    assert marker.startswith("\n") and marker.endswith("\n")
    assert marker.count("\n") == 2 and "12345 bytes" in marker


@pytest.mark.parametrize("bad", [0, MIN_OUTPUT_LIMIT - 1, -5, 2.5, True, "1mb"])
def test_bad_limits_are_usage_errors(bad: object) -> None:
    with pytest.raises(UsageError, match="output_limit"):
        SandboxRequest(image="x", output_limit=bad)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        CappedOutput(bad)  # type: ignore[arg-type]


def test_request_default_is_the_default_limit() -> None:
    assert SandboxRequest(image="x").output_limit == DEFAULT_OUTPUT_LIMIT
    assert SandboxRequest(image="x", output_limit=MIN_OUTPUT_LIMIT).output_limit == 1024


def test_exec_result_reports_truncation() -> None:
    assert not ExecResult(0).truncated
    assert ExecResult(0, stdout_dropped=1).truncated
    assert ExecResult(0, stderr_dropped=3).truncated
