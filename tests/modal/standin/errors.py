"""gRPC status mapping: every failure leaves a handler as a status the SDK does not retry.

An exception escaping a grpclib handler becomes UNKNOWN, which the SDK retries (three
times on the control plane, forever for ``TaskExecWait``); so handlers are wrapped, and
every RPC the stand-in does not serve answers UNIMPLEMENTED at once.
"""

from __future__ import annotations

import abc
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import docker.errors
from grpclib import GRPCError, Status

from .execs import ExecError
from .images import ImageBuildFailure
from .sandboxes import SandboxError

logger = logging.getLogger(__name__)

Handler = Callable[[Any, Any], Awaitable[None]]
ServicerT = TypeVar("ServicerT", bound=type)


def grpc_status(kind: str, message: str) -> GRPCError:
    """A ``GRPCError`` from a status name such as ``"NOT_FOUND"``."""
    return GRPCError(Status[kind], message)


def handler(func: Handler) -> Handler:
    """Wrap an RPC handler so that no exception leaves it as a retryable status."""

    @functools.wraps(func)
    async def wrapped(self: Any, stream: Any) -> None:
        try:
            await func(self, stream)
        except GRPCError:
            raise
        except (ExecError, SandboxError) as exc:
            raise grpc_status(exc.kind, str(exc)) from exc
        except ImageBuildFailure as exc:
            raise GRPCError(Status.FAILED_PRECONDITION, str(exc)) from exc
        except docker.errors.NotFound as exc:
            raise GRPCError(Status.NOT_FOUND, f"modal stand-in: {exc}") from exc
        except Exception as exc:
            # A defect of the stand-in: log it loudly and fail the call once, rather than
            # letting the SDK retry it (UNKNOWN) without end.
            logger.exception("modal stand-in: %s failed", func.__name__)
            raise GRPCError(
                Status.FAILED_PRECONDITION, f"modal stand-in error in {func.__name__}: {exc!r}"
            ) from exc

    return wrapped


def _unimplemented(name: str) -> Handler:
    async def answer(self: Any, stream: Any) -> None:
        raise GRPCError(Status.UNIMPLEMENTED, f"modal stand-in does not implement {name}")

    answer.__name__ = name
    return answer


def fill_unimplemented(cls: ServicerT) -> ServicerT:
    """Give every abstract RPC of ``cls`` a handler that answers UNIMPLEMENTED."""
    missing = sorted(getattr(cls, "__abstractmethods__", ()))
    for name in missing:
        setattr(cls, name, _unimplemented(name))
    # abc computes the abstract set when the class is created; recompute it now.
    abc.update_abstractmethods(cls)
    return cls


def implemented(cls: type) -> list[str]:
    """The RPC names ``cls`` serves itself (not the UNIMPLEMENTED fillers)."""
    names = set(cls.__mapping__(_Probe()).keys())  # type: ignore[attr-defined]
    served = []
    for path in sorted(names):
        name = path.rsplit("/", 1)[-1]
        if getattr(getattr(cls, name), "__wrapped__", None) is not None:
            served.append(name)
    return served


class _Probe:
    def __getattr__(self, name: str) -> Any:
        return None
