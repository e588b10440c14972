"""The control plane (``modal.client.ModalClient``): apps, images and sandbox lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from google.protobuf import empty_pb2
from grpclib import GRPCError, Status
from modal_proto import api_pb2
from modal_proto.api_grpc import ModalClientBase

from .errors import fill_unimplemented, handler
from .ids import mint_jwt, new_id
from .images import IMAGE_BUILDER_VERSION, ImageStore
from .sandboxes import Sandbox, SandboxManager

#: Longest a ``SandboxWaitV2`` is held; the SDK asks for 10 s and allows 15.
MAX_WAIT = 50.0
#: The workspace's default environment, which requests naming none ("") mean.
DEFAULT_ENVIRONMENT = "main"


class ControlPlane(ModalClientBase):  # type: ignore[misc]
    """Serves the control-plane RPCs of the sandbox flow."""

    def __init__(self, sandboxes: SandboxManager, images: ImageStore, router_port: int) -> None:
        self.sandboxes = sandboxes
        self.images = images
        self.router_port = router_port
        #: Environment name -> id; a workspace starts with its default environment only.
        self.environments: dict[str, str] = {DEFAULT_ENVIRONMENT: new_id("en")}
        #: (environment name, app name) -> app id.
        self.apps: dict[tuple[str, str], str] = {}

    def _environment(self, name: str) -> str:
        """The environment ``name`` means ("" is the default); NOT_FOUND when unknown."""
        name = name or DEFAULT_ENVIRONMENT
        if name not in self.environments:
            raise GRPCError(Status.NOT_FOUND, f"Environment '{name}' not found")
        return name

    def _app_ids(self, environment: str) -> set[str]:
        return {app_id for (env, _), app_id in self.apps.items() if env == environment}

    def _sandbox(self, sandbox_id: str) -> Sandbox:
        sandbox = self.sandboxes.get(sandbox_id)
        if sandbox is None:
            raise GRPCError(Status.NOT_FOUND, f"Sandbox {sandbox_id} not found")
        return sandbox

    def _router_access(self, stream: Any, sandbox: Sandbox) -> api_pb2.CommandRouterAccess:
        # Advertise the host the client dialled: the SDK allows a plaintext router only
        # when that is a localhost name, and the router shares this server's port.
        host = stream.metadata.get("x-modal-host") or "127.0.0.1"
        return api_pb2.CommandRouterAccess(
            url=f"http://{host}:{self.router_port}", jwt=mint_jwt(sandbox.task_id)
        )

    @handler
    async def ClientHello(self, stream: Any) -> None:
        await stream.recv_message()
        await stream.send_message(api_pb2.ClientHelloResponse())

    @handler
    async def AuthTokenGet(self, stream: Any) -> None:
        await stream.recv_message()
        await stream.send_message(api_pb2.AuthTokenGetResponse(token=mint_jwt("client")))

    @handler
    async def AppGetOrCreate(self, stream: Any) -> None:
        request = await stream.recv_message()
        key = (self._environment(request.environment_name), request.app_name)
        if key not in self.apps:
            if request.object_creation_type != api_pb2.OBJECT_CREATION_TYPE_CREATE_IF_MISSING:
                raise GRPCError(Status.NOT_FOUND, f"App {request.app_name!r} not found")
            self.apps[key] = new_id("ap")
        app_id = self.apps[key]
        await stream.send_message(
            api_pb2.AppGetOrCreateResponse(
                app_id=app_id, handle_metadata=api_pb2.AppHandleMetadata(app_id=app_id)
            )
        )

    @handler
    async def EnvironmentGetOrCreate(self, stream: Any) -> None:
        request = await stream.recv_message()
        name = request.deployment_name or DEFAULT_ENVIRONMENT
        if (
            name not in self.environments
            and request.object_creation_type == api_pb2.OBJECT_CREATION_TYPE_CREATE_IF_MISSING
        ):
            self.environments[name] = new_id("en")
        name = self._environment(name)
        settings = api_pb2.EnvironmentSettings(image_builder_version=IMAGE_BUILDER_VERSION)
        metadata = api_pb2.EnvironmentMetadata(name=name, settings=settings)
        await stream.send_message(
            api_pb2.EnvironmentGetOrCreateResponse(
                environment_id=self.environments[name], metadata=metadata
            )
        )

    @handler
    async def AppList(self, stream: Any) -> None:
        request = await stream.recv_message()
        environment = self._environment(request.environment_name)
        apps = [
            api_pb2.AppListResponse.AppListItem(
                app_id=app_id, name=name, state=api_pb2.APP_STATE_DEPLOYED
            )
            for (env, name), app_id in self.apps.items()
            if env == environment
        ]
        await stream.send_message(api_pb2.AppListResponse(apps=apps))

    @handler
    async def ImageGetOrCreate(self, stream: Any) -> None:
        request = await stream.recv_message()
        loop = asyncio.get_running_loop()
        response = await loop.run_in_executor(
            self.sandboxes.pool, self.images.get_or_create, request.image
        )
        await stream.send_message(response)

    @handler
    async def SandboxCreateV2(self, stream: Any) -> None:
        request = await stream.recv_message()
        image = self.images.spec(request.definition.image_id)
        if image is None:
            raise GRPCError(Status.NOT_FOUND, f"Image {request.definition.image_id} not found")
        sandbox = await self.sandboxes.create(
            request.app_id, request.definition, image, request.secret_sources, request.tags
        )
        # Unencrypted endpoints are "not known at create time" in real Modal, so only the
        # encrypted ones come back here; the SDK then asks SandboxGetTunnelsV2 for the rest.
        tunnels = sandbox.tunnels.tunnels.values() if sandbox.tunnels else []
        await stream.send_message(
            api_pb2.SandboxCreateV2Response(
                sandbox_id=sandbox.sandbox_id,
                task_id=sandbox.task_id,
                metadata=sandbox.metadata(),
                command_router_access=self._router_access(stream, sandbox),
                tunnels=[t for t in tunnels if not t.unencrypted_host],
            )
        )

    @handler
    async def SandboxGetTaskIdV2(self, stream: Any) -> None:
        request = await stream.recv_message()
        sandbox = self._sandbox(request.sandbox_id)
        if sandbox.result is not None:
            response = api_pb2.SandboxGetTaskIdResponse(task_result=sandbox.result)
        else:
            response = api_pb2.SandboxGetTaskIdResponse(task_id=sandbox.task_id)
        await stream.send_message(response)

    @handler
    async def SandboxGetCommandRouterAccess(self, stream: Any) -> None:
        request = await stream.recv_message()
        if request.sandbox_id:
            sandbox = self._sandbox(request.sandbox_id)
        else:
            found = self.sandboxes.by_task_id(request.task_id)
            if found is None:
                raise GRPCError(Status.NOT_FOUND, f"Task {request.task_id} not found")
            sandbox = found
        if sandbox.result is not None:
            raise GRPCError(Status.FAILED_PRECONDITION, "Sandbox already finished")
        access = self._router_access(stream, sandbox)
        await stream.send_message(
            api_pb2.SandboxGetCommandRouterAccessResponse(url=access.url, jwt=access.jwt)
        )

    @handler
    async def SandboxWaitV2(self, stream: Any) -> None:
        request = await stream.recv_message()
        sandbox = self._sandbox(request.sandbox_id)
        if sandbox.result is None and request.timeout > 0:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(sandbox.done.wait(), min(request.timeout, MAX_WAIT))
        await stream.send_message(
            api_pb2.SandboxWaitResponse(result=sandbox.result, metadata=sandbox.metadata())
        )

    @handler
    async def SandboxTerminateV2(self, stream: Any) -> None:
        request = await stream.recv_message()
        earlier = await self.sandboxes.terminate(self._sandbox(request.sandbox_id))
        await stream.send_message(api_pb2.SandboxTerminateResponse(existing_result=earlier))

    @handler
    async def SandboxTagsSetV2(self, stream: Any) -> None:
        request = await stream.recv_message()
        sandbox = self._sandbox(request.sandbox_id)
        sandbox.tags = {t.tag_name: t.tag_value for t in request.tags}
        await stream.send_message(empty_pb2.Empty())

    @handler
    async def SandboxTagsGetV2(self, stream: Any) -> None:
        request = await stream.recv_message()
        sandbox = self._sandbox(request.sandbox_id)
        tags = [api_pb2.SandboxTag(tag_name=k, tag_value=v) for k, v in sandbox.tags.items()]
        await stream.send_message(api_pb2.SandboxTagsGetResponse(tags=tags))

    @handler
    async def SandboxListV2(self, stream: Any) -> None:
        request = await stream.recv_message()
        if request.app_id:
            app_ids = {request.app_id}
        else:  # the whole environment
            app_ids = self._app_ids(self._environment(request.environment_name))
        found = self.sandboxes.list(
            app_ids,
            {t.tag_name: t.tag_value for t in request.tags},
            request.before_timestamp,
            request.include_finished,
        )
        await stream.send_message(api_pb2.SandboxListResponse(sandboxes=[s.info() for s in found]))

    @handler
    async def SandboxGetTunnelsV2(self, stream: Any) -> None:
        request = await stream.recv_message()
        sandbox = self._sandbox(request.sandbox_id)
        if sandbox.result is not None:
            raise GRPCError(Status.FAILED_PRECONDITION, "Sandbox already finished")
        tunnels = list(sandbox.tunnels.tunnels.values()) if sandbox.tunnels else []
        await stream.send_message(
            api_pb2.SandboxGetTunnelsResponse(
                result=api_pb2.GenericResult(status=api_pb2.GenericResult.GENERIC_STATUS_SUCCESS),
                tunnels=tunnels,
            )
        )


fill_unimplemented(ControlPlane)
