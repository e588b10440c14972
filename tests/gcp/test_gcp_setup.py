"""Setting up the gcp backend: discovery without the SDKs, where settings come from, and
one clear line (quickly) for no credentials, no project and an unreachable endpoint."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import DEMO_DATASET
from test_gcp_eval import DEMO_LOGS

pytestmark = pytest.mark.docker

CLI = [sys.executable, "-c", "from cooperbench.cli.main import main; main()"]
# Keep the credential lookup on this machine: no metadata server, no gcloud config.
OFFLINE_AUTH = {
    "NO_GCE_CHECK": "true",
    "GCE_METADATA_HOST": "127.0.0.1:9",
    "GCE_METADATA_IP": "127.0.0.1:9",
}
GCP_VARIABLES = (
    "GOOGLE_CLOUD_PROJECT",
    "GCP_REGION",
    "GCP_BUCKET",
    "GCP_ZONE",
    "GCP_MACHINE_TYPE",
    "STORAGE_EMULATOR_HOST",
    "COOPERBENCH_GCP_BATCH_ENDPOINT",
    "GOOGLE_APPLICATION_CREDENTIALS",
)


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """This process's environment without any GCP setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in GCP_VARIABLES}
    env.update(OFFLINE_AUTH)
    env["CLOUDSDK_CONFIG"] = str(tmp_path / "gcloud")
    env["COOPERBENCH_CONFIG_FILE"] = str(tmp_path / "config.json")
    env.update(extra)
    return env


def cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=120)


def backends_line(env: dict[str, str]) -> str:
    done = cli(["backends"], env)
    line = next(line for line in done.stdout.splitlines() if line.startswith("gcp "))
    return line


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_help_imports_no_google_sdk() -> None:
    probe = (
        "import sys\n"
        "from cooperbench.cli.main import main\n"
        "sys.argv = ['cooperbench', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith(('google', 'grpc'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_no_project_says_how_to_set_one(tmp_path: Path) -> None:
    line = backends_line(clean_env(tmp_path))
    assert "unusable" in line and "GOOGLE_CLOUD_PROJECT" in line


def test_no_credentials_says_how_to_get_them(tmp_path: Path) -> None:
    started = time.monotonic()
    line = backends_line(clean_env(tmp_path, GOOGLE_CLOUD_PROJECT="cb-test"))
    assert "unusable" in line
    assert "gcloud auth application-default login" in line
    assert time.monotonic() - started < 30


def test_local_endpoints_need_no_credentials(gcp_env: Any, tmp_path: Path) -> None:
    line = backends_line(clean_env(tmp_path, **gcp_env.env))
    assert " usable " in line and "local testing only" in line


def test_unreachable_endpoint_is_one_fast_line(gcp_env: Any, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    shutil.copytree(DEMO_LOGS / "gold", logs / "gold", ignore=shutil.ignore_patterns("eval*"))
    env = clean_env(
        tmp_path, **{**gcp_env.env, "COOPERBENCH_GCP_BATCH_ENDPOINT": f"127.0.0.1:{free_port()}"}
    )
    started = time.monotonic()
    args = ["eval", "-n", "gold", "--backend", "gcp", "--log-dir", str(logs)]
    done = cli([*args, "--dataset-dir", str(DEMO_DATASET)], env)
    assert time.monotonic() - started < 20
    assert done.returncode != 0
    assert "COOPERBENCH_GCP_BATCH_ENDPOINT" in done.stderr and "does not answer" in done.stderr
    assert "Traceback" not in done.stderr
    assert not list(logs.rglob("eval.json"))


def test_a_missing_bucket_is_one_line(gcp_env: Any, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    shutil.copytree(DEMO_LOGS / "gold", logs / "gold", ignore=shutil.ignore_patterns("eval*"))
    env = clean_env(tmp_path, **{**gcp_env.env, "GCP_BUCKET": "no-such-bucket"})
    args = ["eval", "-n", "gold", "--backend", "gcp", "--log-dir", str(logs)]
    done = cli([*args, "--dataset-dir", str(DEMO_DATASET)], env)
    assert done.returncode == 2, done.stderr
    assert "gs://no-such-bucket does not exist" in done.stderr
    assert "Traceback" not in done.stderr


def test_settings_come_from_options_then_environment_then_the_file(tmp_path: Path) -> None:
    from cooperbench_gcp.config import resolve_config

    config_file = tmp_path / "config.json"
    config_file.write_text(
        json.dumps({"gcp": {"project": "from-file", "region": "europe-west4", "zone": "z-file"}})
    )
    environ = {"COOPERBENCH_CONFIG_FILE": str(config_file), "GCP_REGION": "us-east1"}
    config = resolve_config({"zone": "z-option"}, environ)
    assert (config.project, config.region, config.zone) == ("from-file", "us-east1", "z-option")
    assert config.machine_type == "e2-standard-4"  # the default when nothing says otherwise
    assert config.bucket_name == "from-file-cooperbench"
    bare = resolve_config({}, {"COOPERBENCH_CONFIG_FILE": str(tmp_path / "none.json")})
    assert bare.project == "" and not bare.local


def test_default_config_file_is_in_the_user_config_dir(tmp_path: Path) -> None:
    from cooperbench_gcp.config import config_path

    home = {"XDG_CONFIG_HOME": str(tmp_path)}
    if sys.platform.startswith("linux"):
        assert config_path(home) == tmp_path / "cooperbench" / "config.json"
    assert config_path({"COOPERBENCH_CONFIG_FILE": "/x/c.json"}) == Path("/x/c.json")


def test_bare_network_names_become_the_urls_batch_takes() -> None:
    from cooperbench_gcp.jobs import network_url, subnetwork_url

    assert network_url("") == ""
    assert network_url("research-vpc") == "global/networks/research-vpc"
    full = "projects/p/global/networks/research-vpc"
    assert network_url(full) == full
    assert subnetwork_url("lab", "europe-west4") == "regions/europe-west4/subnetworks/lab"
    assert subnetwork_url("regions/us-east1/subnetworks/lab", "europe-west4").startswith(
        "regions/us"
    )
