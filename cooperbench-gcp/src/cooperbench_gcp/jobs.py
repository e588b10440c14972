"""The Batch job that scores the pairs of one task image: one task per pair.

Each task is a container runnable of the task image itself, with the job's folder of
the bucket mounted at :data:`MOUNT`. The task picks its pair by ``BATCH_TASK_INDEX``
and runs core's pair script (:func:`cooperbench.plugin.batch_bundle`), whose outputs
land in the same folder, live, as each step finishes.
"""

from __future__ import annotations

from collections.abc import Mapping

from google.cloud import batch_v1
from google.protobuf import duration_pb2

from cooperbench_gcp.config import GcpConfig

#: Where the job's bucket folder is mounted in every task.
MOUNT = "/mnt/cooperbench"
#: Batch's reserved exit codes of a task lost to the platform (its VM preempted, lost or
#: failed), retried by Batch and, when the retries run out, an infrastructure error.
LOST_EXIT_CODES = {
    50001: "the VM was preempted",
    50002: "the VM stopped reporting",
    50003: "the VM was rebooted",
    50004: "the VM stopped responding",
    50006: "the VM was recreated or deleted",
}
#: The reserved exit code of a task killed at its maximum run duration: a timeout.
RUN_DURATION_EXIT_CODE = 50005
#: Seconds a task has beyond its pair's test budget (pulling the image, staging).
TASK_MARGIN = 600


def input_name(task: int, name: str) -> str:
    """The object name (within the job folder) of input ``name`` of task ``task``."""
    return f"in-{task}-{name}"


def output_prefix(task: int) -> str:
    """The prefix (within the job folder) of task ``task``'s outputs."""
    return f"out-{task}-"


# The task selects its own files by index; "$BATCH_TASK_INDEX" is set by Batch.
_COMMAND = (
    f'i="$BATCH_TASK_INDEX"; exec sh "{MOUNT}/in-$i-run.sh" "{MOUNT}/in-$i-" "{MOUNT}/out-$i-"'
)


def build_job(
    config: GcpConfig,
    *,
    image: str,
    task_count: int,
    parallelism: int,
    remote_path: str,
    max_run_seconds: int,
    max_retries: int,
    labels: Mapping[str, str],
    command: str = _COMMAND,
    network: bool = False,
) -> batch_v1.Job:
    """The job for ``task_count`` tasks of ``image`` whose files are at ``remote_path``.

    Each task runs ``command`` with ``sh -c`` (default: the pair script of task
    ``$BATCH_TASK_INDEX``); without ``network`` it has no external network.
    """
    runnable = batch_v1.Runnable(
        container=batch_v1.Runnable.Container(
            image_uri=image,
            entrypoint="/bin/sh",
            commands=["-c", command],
            # Evaluation sandboxes have no network; the bucket mount is the VM's.
            block_external_network=not network,
        ),
        labels=dict(labels),
    )
    retry_lost = batch_v1.LifecyclePolicy(
        action=batch_v1.LifecyclePolicy.Action.RETRY_TASK,
        action_condition=batch_v1.LifecyclePolicy.ActionCondition(
            exit_codes=sorted(LOST_EXIT_CODES)
        ),
    )
    task_spec = batch_v1.TaskSpec(
        runnables=[runnable],
        volumes=[batch_v1.Volume(gcs=batch_v1.GCS(remote_path=remote_path), mount_path=MOUNT)],
        max_run_duration=duration_pb2.Duration(seconds=max_run_seconds),
        max_retry_count=max_retries,
        lifecycle_policies=[retry_lost],
    )
    group = batch_v1.TaskGroup(task_spec=task_spec, task_count=task_count, parallelism=parallelism)
    policy = batch_v1.AllocationPolicy.InstancePolicy(machine_type=config.machine_type)
    if config.boot_image:
        policy.boot_disk = batch_v1.AllocationPolicy.Disk(image=config.boot_image)
    allocation = batch_v1.AllocationPolicy(
        instances=[batch_v1.AllocationPolicy.InstancePolicyOrTemplate(policy=policy)],
        labels=dict(labels),
    )
    if config.zone:
        allocation.location = batch_v1.AllocationPolicy.LocationPolicy(
            allowed_locations=[f"zones/{config.zone}"]
        )
    if config.service_account:
        allocation.service_account = batch_v1.ServiceAccount(email=config.service_account)
    if config.network or config.subnetwork:
        interface = batch_v1.AllocationPolicy.NetworkInterface(
            network=network_url(config.network),
            subnetwork=subnetwork_url(config.subnetwork, config.region),
        )
        allocation.network = batch_v1.AllocationPolicy.NetworkPolicy(network_interfaces=[interface])
    return batch_v1.Job(
        task_groups=[group],
        allocation_policy=allocation,
        labels=dict(labels),
        logs_policy=batch_v1.LogsPolicy(destination=batch_v1.LogsPolicy.Destination.CLOUD_LOGGING),
    )


def network_url(network: str) -> str:
    """``network`` as Batch takes it: a bare name becomes ``global/networks/NAME``."""
    return f"global/networks/{network}" if network and "/" not in network else network


def subnetwork_url(subnetwork: str, region: str) -> str:
    """A bare subnetwork name becomes ``regions/REGION/subnetworks/NAME``; URLs stay."""
    if subnetwork and "/" not in subnetwork:
        return f"regions/{region}/subnetworks/{subnetwork}"
    return subnetwork
