"""The backend's settings: from backend options, then the environment, then the config file.

Each setting is looked up in that order: ``--backend-option NAME=VALUE`` (or
``backend_options`` from Python), the environment variable, then the ``gcp`` section of
``config.json`` in the user's config directory (``~/.config/cooperbench/config.json``
on Linux; the platform's equivalent elsewhere), which ``cooperbench config gcp``
writes; it may also be written by hand::

    {"gcp": {"project": "my-project", "region": "us-central1", "bucket": "my-bucket"}}

Two variables point the clients at local servers, for local testing only:
``STORAGE_EMULATOR_HOST`` (the storage client's own, ``http://host:port``) and
``COOPERBENCH_GCP_BATCH_ENDPOINT`` (``host:port`` of a plain-text gRPC Batch server).
With both set no credentials are needed.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from cooperbench.plugin import UsageError

#: ``host:port`` of a plain-text gRPC Cloud Batch server (local testing only).
BATCH_ENDPOINT_ENV = "COOPERBENCH_GCP_BATCH_ENDPOINT"
#: The storage client's own variable for a local Cloud Storage server.
STORAGE_EMULATOR_ENV = "STORAGE_EMULATOR_HOST"
#: Overrides the config file's location (a file path).
CONFIG_FILE_ENV = "COOPERBENCH_CONFIG_FILE"

DEFAULT_REGION = "us-central1"
DEFAULT_MACHINE_TYPE = "e2-standard-4"


@attrs.frozen
class Setting:
    """One setting: its name (option and config key), variable, default and help."""

    name: str
    env: str
    default: str
    help: str


SETTINGS = (
    Setting("project", "GOOGLE_CLOUD_PROJECT", "", "Google Cloud project that runs the jobs."),
    Setting("region", "GCP_REGION", DEFAULT_REGION, "Region of the Batch jobs."),
    Setting("zone", "GCP_ZONE", "", "Zone the VMs run in (default: any zone of the region)."),
    Setting(
        "bucket",
        "GCP_BUCKET",
        "",
        "Cloud Storage bucket for the run's files (default: <project>-cooperbench).",
    ),
    Setting("machine_type", "GCP_MACHINE_TYPE", DEFAULT_MACHINE_TYPE, "Machine type of the VMs."),
    Setting("boot_image", "GCP_BOOT_IMAGE", "", "Boot disk image of the VMs (default: Batch's)."),
    Setting(
        "service_account", "GCP_SERVICE_ACCOUNT", "", "Service account the VMs run as (email)."
    ),
    Setting("network", "GCP_NETWORK", "", "VPC network of the VMs (default: the project's)."),
    Setting("subnetwork", "GCP_SUBNETWORK", "", "Subnetwork of the VMs."),
)


@attrs.frozen
class GcpConfig:
    """The resolved settings (empty text: not set)."""

    project: str = ""
    region: str = DEFAULT_REGION
    zone: str = ""
    bucket: str = ""
    machine_type: str = DEFAULT_MACHINE_TYPE
    boot_image: str = ""
    service_account: str = ""
    network: str = ""
    subnetwork: str = ""
    #: ``host:port`` of a local gRPC Batch server, when the environment names one.
    batch_endpoint: str = ""
    #: The local storage server, when ``STORAGE_EMULATOR_HOST`` names one.
    storage_endpoint: str = ""

    @property
    def local(self) -> bool:
        """True when both services are local servers (no credentials needed)."""
        return bool(self.batch_endpoint and self.storage_endpoint)

    @property
    def parent(self) -> str:
        """The Batch location jobs are created in: ``projects/P/locations/R``."""
        return f"projects/{self.project}/locations/{self.region}"

    @property
    def bucket_name(self) -> str:
        """The bucket to use: the setting, else ``<project>-cooperbench``."""
        return self.bucket or f"{self.project}-cooperbench"

    def require_project(self) -> str:
        """The project, or a :class:`UsageError` saying how to set one."""
        if not self.project:
            raise UsageError(NO_PROJECT)
        return self.project


NO_PROJECT = (
    "no Google Cloud project: set GOOGLE_CLOUD_PROJECT, pass --backend-option project=ID, "
    "or run 'cooperbench config gcp'"
)


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """The user's cooperbench config file (``COOPERBENCH_CONFIG_FILE`` overrides it)."""
    env = os.environ if environ is None else environ
    if env.get(CONFIG_FILE_ENV):
        return Path(env[CONFIG_FILE_ENV])
    if sys.platform == "win32":
        base = Path(env.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "cooperbench" / "config.json"


def read_config_file(path: Path) -> dict[str, Any]:
    """The ``gcp`` section of the config file (empty when there is no file)."""
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read the config file {path}: {exc}; fix or remove it") from exc
    section = document.get("gcp", {}) if isinstance(document, dict) else None
    if not isinstance(section, dict):
        raise UsageError(f"the config file {path} has no 'gcp' object; fix or remove it")
    return section


def resolve_config(
    options: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> GcpConfig:
    """The settings: ``options`` first, then the environment, then the config file."""
    env = os.environ if environ is None else environ
    given = options or {}
    from_file = read_config_file(config_path(env))
    values: dict[str, str] = {}
    for setting in SETTINGS:
        for source in (given.get(setting.name), env.get(setting.env), from_file.get(setting.name)):
            if source not in (None, ""):
                values[setting.name] = str(source)
                break
        else:
            values[setting.name] = setting.default
    return GcpConfig(
        **values,
        batch_endpoint=env.get(BATCH_ENDPOINT_ENV, "").strip(),
        storage_endpoint=env.get(STORAGE_EMULATOR_ENV, "").strip(),
    )
