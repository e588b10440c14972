"""The Docker engine side: the instance's network, and sweeping what dead instances left."""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass, field
from typing import Any

import docker
import docker.errors

from .ids import LABEL, LABEL_HOST, LABEL_INSTANCE, LABEL_PID

logger = logging.getLogger(__name__)


def connect() -> Any:
    """The engine's low-level API client (``DOCKER_HOST`` and friends are honoured)."""
    return docker.APIClient(version="auto", timeout=120)


@dataclass
class Instance:
    """One running stand-in's identity and the Docker objects it owns."""

    instance_id: str
    api: Any
    network_name: str = ""
    network_id: str = ""
    gateway: str = ""
    labels: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.labels = {
            LABEL: "1",
            LABEL_INSTANCE: self.instance_id,
            LABEL_PID: str(os.getpid()),
            LABEL_HOST: socket.gethostname(),
        }

    def create_network(self) -> None:
        """Create the bridge network every sandbox with open networking joins.

        Sandboxes reach each other (and the host reaches them) by their address on it;
        the host side of the bridge (its gateway) is where TLS tunnels listen.
        """
        self.network_name = f"modal-standin-{self.instance_id}"
        created = self.api.create_network(self.network_name, driver="bridge", labels=self.labels)
        self.network_id = created["Id"]
        config = self.api.inspect_network(self.network_id)["IPAM"]["Config"]
        self.gateway = next(c["Gateway"] for c in config if c.get("Gateway"))

    def remove_all(self) -> None:
        """Remove every container and the network of this instance (best effort)."""
        remove_labelled(self.api, f"{LABEL_INSTANCE}={self.instance_id}")


def remove_labelled(api: Any, label_filter: str) -> int:
    """Force-remove containers, then networks, matching ``label_filter``; return how many."""
    removed = 0
    for container in api.containers(all=True, filters={"label": label_filter}):
        try:
            api.remove_container(container["Id"], force=True, v=True)
            removed += 1
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            logger.warning("could not remove container %s: %s", container["Id"][:12], exc)
    for network in api.networks(filters={"label": label_filter}):
        try:
            api.remove_network(network["Id"])
            removed += 1
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            logger.warning("could not remove network %s: %s", network["Name"], exc)
    return removed


def owner_alive(labels: dict[str, str]) -> bool:
    """True unless the labels name a stand-in process on this host that is gone.

    Objects of another host are never judged dead: their owner may well be running.
    """
    if labels.get(LABEL_HOST) != socket.gethostname():
        return True
    try:
        pid = int(labels.get(LABEL_PID, ""))
    except ValueError:
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            # A reused pid that runs something else does not keep the objects alive.
            return b"standin" in cmdline.read()
    except OSError:
        return False


def reap_dead_instances(api: Any, keep: str = "") -> int:
    """Remove what stand-in instances that are no longer running left behind."""
    dead: set[str] = set()
    objects = [
        *api.containers(all=True, filters={"label": LABEL}),
        *api.networks(filters={"label": LABEL}),
    ]
    for obj in objects:
        labels = obj.get("Labels") or {}
        instance = labels.get(LABEL_INSTANCE, "")
        if instance and instance != keep and not owner_alive(labels):
            dead.add(instance)
    removed = 0
    for instance in sorted(dead):
        logger.info("reaping leftovers of dead stand-in instance %s", instance)
        removed += remove_labelled(api, f"{LABEL_INSTANCE}={instance}")
    return removed
