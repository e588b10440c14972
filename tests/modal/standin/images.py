"""Image "builds": resolving the SDK's Dockerfile lines against images already in the engine.

The SDK never uploads an image; it sends Dockerfile lines per layer. ``FROM <ref>`` is
looked up in the local engine and never pulled. An upper layer may only adjust the
container configuration (``ENTRYPOINT``, ``CMD``, ``ENV``, ``WORKDIR``); anything that
would need a real build answers FAILURE, which the SDK raises as ``ImageBuildError``.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from dataclasses import dataclass, field
from typing import Any

import docker.errors
from modal_proto import api_pb2

#: Builder versions the 1.6.4 SDK accepts; older ones add ``pip install`` lines to layer 1.
IMAGE_BUILDER_VERSION = "2025.06"


class ImageBuildFailure(Exception):
    """A layer the stand-in cannot provide; the message is shown to the SDK user."""


@dataclass
class ImageSpec:
    """What a sandbox container starts from: a local image and configuration overrides."""

    ref: str
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    env: dict[str, str] = field(default_factory=dict)
    workdir: str | None = None


class ImageStore:
    """The image ids handed out, and what each one stands for."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self.images: dict[str, ImageSpec] = {}

    def get_or_create(self, image: api_pb2.Image) -> api_pb2.ImageGetOrCreateResponse:
        """Answer ``ImageGetOrCreate``: SUCCESS with an id, or FAILURE saying why."""
        digest = hashlib.sha256(image.SerializeToString(deterministic=True)).hexdigest()[:24]
        image_id = f"im-{digest}"
        try:
            self.images[image_id] = self._resolve(image)
        except ImageBuildFailure as exc:
            result = api_pb2.GenericResult(
                status=api_pb2.GenericResult.GENERIC_STATUS_FAILURE, exception=str(exc)
            )
            return api_pb2.ImageGetOrCreateResponse(image_id=image_id, result=result)
        result = api_pb2.GenericResult(status=api_pb2.GenericResult.GENERIC_STATUS_SUCCESS)
        return api_pb2.ImageGetOrCreateResponse(image_id=image_id, result=result)

    def spec(self, image_id: str) -> ImageSpec | None:
        """The spec behind an image id this instance handed out."""
        return self.images.get(image_id)

    def _resolve(self, image: api_pb2.Image) -> ImageSpec:
        commands = [c.strip() for c in image.dockerfile_commands if c.strip()]
        if not commands or not commands[0].upper().startswith("FROM "):
            raise ImageBuildFailure("the modal stand-in needs a FROM line in every image layer")
        if image.context_files or image.context_mount_id or image.build_function.definition:
            raise ImageBuildFailure("the modal stand-in does not build images (context files)")
        ref = commands[0].split(None, 1)[1].strip()
        bases = {b.docker_tag: b.image_id for b in image.base_images}
        if ref in bases:
            base = self.images.get(bases[ref])
            if base is None:
                raise ImageBuildFailure(f"unknown base image id {bases[ref]}")
            spec = ImageSpec(base.ref, base.entrypoint, base.cmd, dict(base.env), base.workdir)
        else:
            self._require_local(ref)
            spec = ImageSpec(ref)
        for line in commands[1:]:
            self._apply(spec, line)
        return spec

    def _require_local(self, ref: str) -> None:
        try:
            self.api.inspect_image(ref)
        except docker.errors.NotFound:
            raise ImageBuildFailure(
                f"image {ref!r} is not present in the local Docker engine; the modal stand-in "
                "never pulls images (build or load it locally first)"
            ) from None

    @staticmethod
    def _apply(spec: ImageSpec, line: str) -> None:
        keyword, _, rest = line.partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        if keyword in ("ENTRYPOINT", "CMD"):
            value = _exec_form(rest)
            if keyword == "ENTRYPOINT":
                spec.entrypoint = value
            else:
                spec.cmd = value
        elif keyword == "ENV":
            for item in shlex.split(rest):
                name, sep, value = item.partition("=")
                if not sep:
                    raise ImageBuildFailure(f"unsupported ENV line: {line}")
                spec.env[name] = value
        elif keyword == "WORKDIR":
            spec.workdir = rest
        else:
            raise ImageBuildFailure(
                f"the modal stand-in does not build images; unsupported line: {line}"
            )


def _exec_form(text: str) -> list[str]:
    """``["a", "b"]`` as a list; a shell-form line becomes ``/bin/sh -c <line>`` as in Docker."""
    if text.startswith("["):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ImageBuildFailure(f"not a JSON list: {text}") from exc
        return [str(v) for v in value]
    return ["/bin/sh", "-c", text]
