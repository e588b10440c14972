"""``cooperbench config gcp``: find credentials, choose the project, region, zone and
bucket, check access, and save the ``gcp`` section of the user's config file.

Every question has a ``--set NAME=VALUE``; without a terminal (or with ``--yes``) the
wizard asks nothing and takes those, then the current settings (environment, config
file), then the defaults. Access is checked by listing Batch jobs in the chosen
location and by creating the bucket, or checking it, with a rule that deletes objects
after :data:`OBJECT_LIFETIME_DAYS` days (evaluation removes its files itself; the rule
catches what a killed harness left).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import click

from cooperbench.plugin import BackendUnavailableError, UsageError
from cooperbench_gcp import clients
from cooperbench_gcp.config import SETTINGS, GcpConfig, config_path, resolve_config
from cooperbench_gcp.status import NO_CREDENTIALS

#: Days after which the bucket's lifecycle rule deletes an object.
OBJECT_LIFETIME_DAYS = 7


def run_wizard(settings: Mapping[str, str], interactive: bool) -> str:
    """Configure the backend; return the path of the config file written."""
    known = {setting.name for setting in SETTINGS}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise UsageError(f"unknown setting {unknown[0]!r}; use one of {', '.join(sorted(known))}")
    current = resolve_config(settings)
    gcloud = shutil.which("gcloud")
    click.echo(f"gcloud CLI: {gcloud or 'not found (optional; it makes credentials)'}")
    found_project = _credentials(current)

    def ask(name: str, label: str, default: str, required: bool = True) -> str:
        if name in settings:
            return settings[name]
        if interactive:
            return str(click.prompt(label, default=default, show_default=True)).strip()
        if default or not required:
            return default
        raise UsageError(f"no {label.lower()}: pass --set {name}=VALUE")

    project = ask("project", "Project", current.project or found_project)
    region = ask("region", "Region", current.region)
    zone = ask("zone", "Zone (empty: any zone of the region)", current.zone, required=False)
    bucket = ask("bucket", "Bucket", current.bucket or f"{project}-cooperbench")
    config = attrs.evolve(current, project=project, region=region, zone=zone, bucket=bucket)
    _check_batch(config)
    _check_bucket(config)
    chosen = {"project": project, "region": region, "zone": zone, "bucket": bucket}
    chosen.update({k: v for k, v in settings.items() if k not in chosen})
    path = config_path()
    _write_section(path, {k: v for k, v in chosen.items() if v})
    return str(path)


def _credentials(config: GcpConfig) -> str:
    """Find credentials; return the project they name (empty when none)."""
    if config.local:
        click.echo("credentials: not needed (local servers, for local testing only)")
        return ""
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    try:
        _credentials, project = google.auth.default()
    except DefaultCredentialsError as exc:
        raise UsageError(NO_CREDENTIALS) from exc
    click.echo("credentials: application default credentials")
    return project or ""


def _check_batch(config: GcpConfig) -> None:
    batch = clients.batch_client(config)
    try:
        clients.call(batch.list_jobs, parent=config.parent, page_size=1)
    except clients.API_ERRORS as exc:
        raise clients.unavailable(f"listing jobs in {config.parent}", exc, config) from exc
    click.echo(f"Batch: jobs can be listed in {config.parent}")


def _check_bucket(config: GcpConfig) -> None:
    storage = clients.storage_client(config)
    name = config.bucket_name
    try:
        bucket = storage.lookup_bucket(name, timeout=clients.CALL_TIMEOUT)
        if bucket is None:
            bucket = storage.bucket(name)
            bucket.add_lifecycle_delete_rule(age=OBJECT_LIFETIME_DAYS)
            storage.create_bucket(bucket, location=config.region, timeout=clients.CALL_TIMEOUT)
            click.echo(f"bucket: created gs://{name} in {config.region}")
        elif not _has_delete_rule(bucket):
            bucket.add_lifecycle_delete_rule(age=OBJECT_LIFETIME_DAYS)
            bucket.patch(timeout=clients.CALL_TIMEOUT)
            click.echo(f"bucket: gs://{name} now deletes objects after {OBJECT_LIFETIME_DAYS} days")
        else:
            click.echo(f"bucket: gs://{name} is there, with a delete rule")
    except clients.API_ERRORS as exc:
        raise BackendUnavailableError(
            f"cannot create or check the bucket gs://{name}: {exc}; choose another name "
            "(--set bucket=NAME) or ask for the Storage Admin role"
        ) from exc


def _has_delete_rule(bucket: Any) -> bool:
    return any(rule.get("action", {}).get("type") == "Delete" for rule in bucket.lifecycle_rules)


def _write_section(path: Path, section: Mapping[str, str]) -> None:
    """Replace the ``gcp`` section of the config file, atomically, keeping the rest."""
    document: dict[str, Any] = {}
    if path.exists():
        try:
            loaded = json.loads(path.read_text())
        except ValueError as exc:
            raise UsageError(
                f"the config file {path} is not JSON ({exc}); fix or remove it"
            ) from exc
        if isinstance(loaded, dict):
            document = loaded
    document["gcp"] = dict(section)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, staged = tempfile.mkstemp(dir=path.parent, prefix=".config-", suffix=".json")
    try:
        with os.fdopen(handle, "w") as file:
            json.dump(document, file, indent=2)
            file.write("\n")
        os.replace(staged, path)
    except BaseException:
        Path(staged).unlink(missing_ok=True)
        raise
