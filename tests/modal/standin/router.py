"""The task command router (``modal.task_command_router.TaskCommandRouter``): execs."""

from __future__ import annotations

import uuid
from typing import Any

from grpclib import GRPCError, Status
from modal_proto import task_command_router_pb2 as sr_pb2
from modal_proto.task_command_router_grpc import TaskCommandRouterBase

from .errors import fill_unimplemented, handler
from .execs import Exec, ExecRequest
from .fstools import fs_tools_request, is_fs_tools
from .sandboxes import Sandbox, SandboxManager

_PIPE_OUT = sr_pb2.TaskExecStdoutConfig.TASK_EXEC_STDOUT_CONFIG_PIPE
_PIPE_ERR = sr_pb2.TaskExecStderrConfig.TASK_EXEC_STDERR_CONFIG_PIPE
_ERR_TO_OUT = sr_pb2.TaskExecStderrConfig.TASK_EXEC_STDERR_CONFIG_STDOUT


class CommandRouter(TaskCommandRouterBase):  # type: ignore[misc]
    """Serves exec, output, stdin and exit status of commands in sandboxes."""

    def __init__(self, sandboxes: SandboxManager) -> None:
        self.sandboxes = sandboxes

    def _sandbox(self, task_id: str) -> Sandbox:
        sandbox = self.sandboxes.by_task_id(task_id)
        if sandbox is None:
            raise GRPCError(Status.NOT_FOUND, f"Task {task_id} not found")
        return sandbox

    def _exec(self, task_id: str, exec_id: str) -> Exec:
        process = self._sandbox(task_id).execs.get(exec_id)
        if process is None:
            raise GRPCError(Status.NOT_FOUND, f"Exec {exec_id} not found")
        return process

    @handler
    async def TaskExecStart(self, stream: Any) -> None:
        request = await stream.recv_message()
        sandbox = self._sandbox(request.task_id)
        if sandbox.result is not None:
            raise GRPCError(Status.FAILED_PRECONDITION, "Sandbox already finished")
        if request.HasField("pty_info") or request.container_id or request.secret_ids:
            raise GRPCError(
                Status.UNIMPLEMENTED,
                "the modal stand-in does not support pty, sidecars or named secrets in exec",
            )
        exec_id = request.exec_id or str(uuid.uuid4())
        if exec_id not in sandbox.execs:  # the exec id doubles as the idempotency key
            exec_request = self._exec_request(request)
            process = Exec(exec_id, exec_request, self.sandboxes.api, self.sandboxes.pool)
            sandbox.execs[exec_id] = process
            try:
                await process.start(sandbox.container_id)
            except BaseException:
                sandbox.execs.pop(exec_id, None)
                raise
        await stream.send_message(sr_pb2.TaskExecStartResponse())

    @staticmethod
    def _exec_request(request: Any) -> ExecRequest:
        argv = list(request.command_args)
        exec_request = fs_tools_request(argv) if is_fs_tools(argv) else ExecRequest(argv=argv)
        env = dict(request.env)
        for source in request.secret_sources:
            if source.secret_id:
                raise GRPCError(Status.UNIMPLEMENTED, "the modal stand-in has no named secrets")
            env.update(source.env.contents)
        exec_request.env = {**env, **exec_request.env}
        if request.HasField("workdir"):
            exec_request.workdir = request.workdir
        if request.HasField("timeout_secs"):
            exec_request.timeout_secs = request.timeout_secs
        exec_request.keep_stdout = request.stdout_config == _PIPE_OUT
        exec_request.keep_stderr = request.stderr_config in (_PIPE_ERR, _ERR_TO_OUT)
        exec_request.stderr_to_stdout = request.stderr_config == _ERR_TO_OUT
        return exec_request

    @handler
    async def TaskExecStdioRead(self, stream: Any) -> None:
        request = await stream.recv_message()
        process = self._exec(request.task_id, request.exec_id)
        stdout = request.file_descriptor == sr_pb2.TASK_EXEC_STDIO_FILE_DESCRIPTOR_STDOUT
        buffer = process.stdout if stdout else process.stderr
        async for chunk in buffer.chunks(request.offset):
            await stream.send_message(sr_pb2.TaskExecStdioReadResponse(data=chunk))

    @handler
    async def TaskExecWait(self, stream: Any) -> None:
        request = await stream.recv_message()
        process = self._exec(request.task_id, request.exec_id)
        # A timed-out exec never finishes: the SDK's own deadline ends this call.
        await process.finished.wait()
        await stream.send_message(sr_pb2.TaskExecWaitResponse(code=self._code(process)))

    @handler
    async def TaskExecPoll(self, stream: Any) -> None:
        request = await stream.recv_message()
        process = self._exec(request.task_id, request.exec_id)
        if process.finished.is_set():
            response = sr_pb2.TaskExecPollResponse(code=self._code(process))
        else:
            response = sr_pb2.TaskExecPollResponse()
        await stream.send_message(response)

    @staticmethod
    def _code(process: Exec) -> int:
        if process.lost or process.code is None:
            raise GRPCError(Status.NOT_FOUND, "the sandbox ended while the command was running")
        return process.code

    @handler
    async def TaskExecStdinWrite(self, stream: Any) -> None:
        request = await stream.recv_message()
        process = self._exec(request.task_id, request.exec_id)
        await process.write_stdin(request.offset, request.data, request.eof)
        await stream.send_message(sr_pb2.TaskExecStdinWriteResponse())

    @handler
    async def TaskExecStdinWriteStream(self, stream: Any) -> None:
        first = await stream.recv_message()
        if first is None or not first.HasField("start"):
            raise GRPCError(Status.INVALID_ARGUMENT, "the stdin stream must begin with start")
        process = self._exec(first.start.task_id, first.start.exec_id)
        offset = first.start.offset
        async for message in stream:
            if message.HasField("end"):
                await process.write_stdin(offset, b"", eof=True)
                break
            await process.write_stdin(offset, message.data, eof=False)
            offset += len(message.data)
        await stream.send_message(sr_pb2.TaskExecStdinWriteStreamResponse())

    @handler
    async def TaskExecStdinStatus(self, stream: Any) -> None:
        request = await stream.recv_message()
        process = self._exec(request.task_id, request.exec_id)
        await stream.send_message(
            sr_pb2.TaskExecStdinStatusResponse(
                num_bytes_written=process.stdin_offset, closed=process.stdin_closed
            )
        )


fill_unimplemented(CommandRouter)
