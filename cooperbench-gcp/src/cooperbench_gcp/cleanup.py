"""``cooperbench cleanup --backend gcp``: jobs and bucket files of evaluations whose process is gone.

Only what this backend created is touched: jobs labelled ``cooperbench-managed=true``
and the folders under ``gs://<bucket>/cooperbench/`` that hold an ``owner.json``. Of
those, only the ones whose owning process (host and pid in the labels) has ended.
"""

from __future__ import annotations

import json

from cooperbench_gcp import clients, naming
from cooperbench_gcp.config import resolve_config
from cooperbench_gcp.evaluate import delete_job, remove_objects


def cleanup_leftovers(dry_run: bool) -> list[str]:
    """Delete (or, with ``dry_run``, list) the leftovers of dead evaluations."""
    config = resolve_config()
    config.require_project()
    batch = clients.batch_client(config)
    storage = clients.storage_client(config)
    lines = []
    try:
        listed = list(
            clients.call(
                batch.list_jobs,
                parent=config.parent,
                filter=f'labels.{naming.MANAGED_LABEL}="true"',
            )
        )
    except clients.API_ERRORS as exc:
        raise clients.unavailable("listing jobs", exc, config) from exc
    for job in listed:
        if naming.owner_alive(dict(job.labels)):
            continue
        if not dry_run:
            delete_job(batch, job.name)
        lines.append(f"job {job.name}")
    bucket = storage.bucket(config.bucket_name)
    try:
        if storage.lookup_bucket(config.bucket_name, timeout=clients.CALL_TIMEOUT) is None:
            return lines
        owners = [
            blob
            for blob in storage.list_blobs(
                bucket, prefix=f"{naming.BUCKET_ROOT}/", timeout=clients.CALL_TIMEOUT
            )
            if blob.name.count("/") == 2 and blob.name.endswith("/owner.json")
        ]
        for blob in owners:
            try:
                labels = json.loads(blob.download_as_bytes(timeout=clients.CALL_TIMEOUT))
            except ValueError:
                labels = {}
            if isinstance(labels, dict) and naming.owner_alive(labels):
                continue
            prefix = blob.name.rsplit("/", 1)[0]
            if not dry_run:
                remove_objects(storage, bucket, prefix)
            lines.append(f"files gs://{config.bucket_name}/{prefix}/")
    except clients.API_ERRORS as exc:
        raise clients.unavailable("cleaning up the bucket", exc, config) from exc
    return lines
