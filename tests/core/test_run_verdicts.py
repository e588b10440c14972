"""`run` keeps the harness's failures apart from the agents': error kinds, exit status 3."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from cooperbench import run
from cooperbench.errors import BackendUnavailableError, SandboxError, UsageError
from cooperbench.local.sandbox import LocalSandbox
from cooperbench.plugin import hookimpl
from cooperbench.plugin_manager import PluginManager
from cooperbench.runs.agent_logs import LOG_CAP

ROOT = Path(__file__).resolve().parents[2]
DATASET = ROOT / "examples" / "dataset"
PAIR = Path("coop") / "demo_textkit_task" / "0" / "f1_f2"
CLI = [sys.executable, "-c", "from cooperbench.cli.main import main; main()"]


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_messaging_that_never_starts_is_an_infrastructure_error_and_exit_3(
    tmp_path: Path,
) -> None:
    args = ["run", "-n", "down", "-t", "0", "-f", "1,2", "--dataset-dir", str(DATASET)]
    args += ["--log-dir", str(tmp_path), "--redis", f"redis://127.0.0.1:{closed_port()}"]
    done = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: 1 of 1 selected pair(s) have no verdict")
    assert "infrastructure error: 1" in last
    pair = tmp_path / "down" / PAIR
    result = load(pair / "result.json")
    for record in result["agents"].values():
        assert record["status"] == "Error"
        assert record["error_kind"] == "infrastructure"
        assert "messaging could not start" in record["error"]
    # No verdict for what the agents never did: an error, counted as one in the summary.
    scored = load(pair / "eval.json")
    assert (scored["status"], scored["error_kind"]) == ("error", "infrastructure")
    assert "eval demo_textkit_task/0/1,2 (coop): error (infrastructure: " in done.stderr
    overall = load(tmp_path / "down" / "eval_summary.json")
    assert (overall["errors"], overall["skipped"], overall["failed"]) == (1, 0, 0)
    # The next invocation runs it again (with a server that works, it finishes).
    again = run(
        "down", task=0, features=[1, 2], dataset_dir=DATASET, log_dir=tmp_path, auto_eval=False
    )
    assert (again["pairs_run"], again["pairs_skipped"]) == (1, 0)
    assert again["incomplete"] == []
    assert {r["error_kind"] for r in load(pair / "result.json")["agents"].values()} == {None}


def test_wrong_redis_password_is_an_infrastructure_error(redis_server: str, tmp_path: Path) -> None:
    host = redis_server.removeprefix("redis://")
    outcome = run(
        "auth",
        task=0,
        features=[1, 2],
        redis_url=f"redis://:wrong-password@{host}",
        dataset_dir=DATASET,
        log_dir=tmp_path,
    )
    result = load(tmp_path / "auth" / PAIR / "result.json")
    assert {r["error_kind"] for r in result["agents"].values()} == {"infrastructure"}
    assert "wrong-password" not in json.dumps(result)
    assert load(tmp_path / "auth" / PAIR / "eval.json")["status"] == "error"
    assert (outcome["eval_summary"]["errors"], outcome["eval_summary"]["failed"]) == (1, 0)
    assert [p["run"] for p in outcome["incomplete"]] == ["demo_textkit_task/0/1,2"]
    assert outcome["incomplete"][0]["reason"].startswith("infrastructure error")


def backend_module(name: str, **hooks: Any) -> types.ModuleType:
    """A backend plugin of local sandboxes with some hooks of its own."""
    module = types.ModuleType(name)

    def create_sandbox(request: Any) -> LocalSandbox:
        return LocalSandbox.create(request)

    module.create_sandbox = hookimpl(hooks.pop("create_sandbox", create_sandbox))  # type: ignore[attr-defined]
    for hook, function in hooks.items():
        setattr(module, hook, hookimpl(function))
    return module


def test_a_sandbox_that_never_starts_is_an_infrastructure_error(tmp_path: Path) -> None:
    def create_sandbox(request: Any) -> LocalSandbox:
        if request.labels.get("cooperbench.agent") == "agent2":
            raise SandboxError("no capacity left")
        return LocalSandbox.create(request)

    plugins = PluginManager.discover(disabled=())
    plugins.register(backend_module("full", create_sandbox=create_sandbox), name="full")
    outcome = run(
        "full",
        task=0,
        features=[1, 2],
        messaging=False,
        backend="full",
        dataset_dir=DATASET,
        log_dir=tmp_path,
        plugins=plugins,
    )
    agents = load(tmp_path / "full" / PAIR / "result.json")["agents"]
    assert agents["agent1"]["status"] == "Submitted" and agents["agent1"]["error_kind"] is None
    assert agents["agent2"]["error_kind"] == "infrastructure"
    assert "no capacity left" in agents["agent2"]["error"]
    assert load(tmp_path / "full" / PAIR / "eval.json")["error_kind"] == "infrastructure"
    assert len(outcome["incomplete"]) == 1


def test_an_agents_own_error_keeps_no_error_kind(tmp_path: Path) -> None:
    outcome = run(
        "own",
        task=0,
        features=[1, 2],
        agent="command",
        agent_command="exit 5",
        messaging=False,
        dataset_dir=DATASET,
        log_dir=tmp_path,
        auto_eval=False,
    )
    agents = load(tmp_path / "own" / PAIR / "result.json")["agents"]
    assert {(r["status"], r["error_kind"]) for r in agents.values()} == {("Error", None)}
    assert outcome["incomplete"] == []


def test_a_failing_evaluation_is_recorded_as_an_infrastructure_error(tmp_path: Path) -> None:
    def evaluate_patch(requests: Any, context: Any) -> Any:
        raise BackendUnavailableError("the evaluation service went away")

    plugins = PluginManager.discover(disabled=())
    plugins.register(backend_module("lossy", evaluate_patch=evaluate_patch), name="lossy")
    seen: list[Any] = []
    outcome = run(
        "lossy",
        task=0,
        features=[1, 2],
        messaging=False,
        backend="lossy",
        dataset_dir=DATASET,
        log_dir=tmp_path,
        plugins=plugins,
        on_eval=seen.append,
    )
    verdict = load(tmp_path / "lossy" / PAIR / "eval.json")
    assert verdict["error_kind"] == "infrastructure"
    assert "the evaluation service went away" in verdict["error"]
    assert verdict["backend"] == "lossy"
    assert [r.error_kind for r in seen] == ["infrastructure"]  # reported as it happened
    assert outcome["incomplete"][0]["reason"].startswith("evaluation error")


@pytest.mark.parametrize("content", ["{not json", "[1, 2]"])
def test_an_unreadable_result_of_another_pair_does_not_abort_the_run(
    tmp_path: Path, content: str
) -> None:
    other = tmp_path / "mixed" / "coop" / "demo_textkit_task" / "0" / "f3_f4"
    other.mkdir(parents=True)
    (other / "result.json").write_text(content)
    outcome = run(
        "mixed",
        task=0,
        features=[1, 2],
        messaging=False,
        dataset_dir=DATASET,
        log_dir=tmp_path,
        auto_eval=False,
    )
    rows = {row["run"]: row for row in outcome["summary"]["pairs"]}
    assert rows["demo_textkit_task/0/1,2"]["finished"] is True
    broken = rows["demo_textkit_task/0/3,4"]
    assert broken["finished"] is False and "result.json" in broken["error"]
    assert load(tmp_path / "mixed" / "summary.json")["pairs_with_errors"] == 1


def test_gold_solo_runs_every_demo_pair(tmp_path: Path) -> None:
    outcome = run(
        "solo-all",
        setting="solo",
        concurrency=2,
        dataset_dir=DATASET,
        log_dir=tmp_path,
        auto_eval=False,
    )
    summary = outcome["summary"]
    assert summary["total_pairs"] == 12
    assert summary["agent_statuses"] == {"Submitted": 12}
    # Two features that both append to one file: each gold addition is in the patch.
    patch = tmp_path / "solo-all" / "solo" / "demo_textkit_task" / "0" / "f1_f3" / "solo.patch"
    text = patch.read_text()
    assert "+def title_case(" in text and "+def wrap(" in text
    assert "<<<<<<<" not in text


def test_env_and_pass_env_reach_the_agents_and_only_their_names_are_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "s3cret-value-4711"
    monkeypatch.setenv("AGENT_TOKEN", secret)
    check = f'[ "$AGENT_TOKEN" = "{secret}" ] && [ "$MODE" = fast ] && echo seen > seen.txt'
    outcome = run(
        "envs",
        task=0,
        features=[1, 2],
        agent="command",
        agent_command=check.replace(secret, "$EXPECTED"),
        env={"MODE": "fast", "EXPECTED": secret},
        pass_env=["AGENT_TOKEN"],
        dataset_dir=DATASET,
        log_dir=tmp_path,
        auto_eval=False,
    )
    assert outcome["summary"]["agent_statuses"] == {"Submitted": 2}
    assert "seen.txt" in (tmp_path / "envs" / PAIR / "agent1.patch").read_text()
    config = load(tmp_path / "envs" / "config.json")
    assert config["env"] == ["EXPECTED", "MODE"] and config["pass_env"] == ["AGENT_TOKEN"]
    for path in (tmp_path / "envs").rglob("*"):
        if path.is_file():
            assert secret not in path.read_text(errors="replace"), path


def test_pass_env_of_an_unset_variable_is_one_usage_line(tmp_path: Path) -> None:
    args = ["run", "--pass-env", "COOPERBENCH_SURELY_UNSET", "--dataset-dir", str(DATASET)]
    done = subprocess.run(
        [*CLI, *args, "--log-dir", str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: --pass-env COOPERBENCH_SURELY_UNSET: the variable is not set here;"
        " set it or use --env"
    ]
    with pytest.raises(UsageError, match="KEY=VALUE"):
        from cooperbench.runs.config import parse_env_assignments

        parse_env_assignments(["NOEQUALS"])


def test_config_records_provenance(tmp_path: Path) -> None:
    run(
        "prov",
        task=0,
        features=[1, 2],
        messaging=False,
        eval_timeout=321,
        image_template="mine/{repo_slug}:{task_id}",
        dataset_dir=DATASET,
        log_dir=tmp_path,
        auto_eval=False,
    )
    config = load(tmp_path / "prov" / "config.json")
    from cooperbench import __version__

    assert config["backend"] == "local" and config["cooperbench_version"] == __version__
    assert config["eval_timeout"] == 321
    assert config["image_template"] == "mine/{repo_slug}:{task_id}"
    assert config["images"] == {"demo_textkit_task/0": "mine/demo-textkit:0"}
    assert config["backend_options"] == []


def test_command_logs_are_copied_capped_and_cleared_on_rerun(tmp_path: Path) -> None:
    # stdout is one byte more than the cap, so only its last LOG_CAP bytes are kept.
    noisy = f"echo FIRST; head -c {LOG_CAP} /dev/zero | tr '\\0' x; echo ERR >&2"
    options: dict[str, Any] = {
        "task": 0,
        "features": [1, 2],
        "agent": "command",
        "dataset_dir": DATASET,
        "log_dir": tmp_path,
        "auto_eval": False,
        "messaging": False,
    }
    run("logs", agent_command=noisy, **options)
    pair = tmp_path / "logs" / PAIR
    stdout = (pair / "agent1_stdout.log").read_bytes()
    assert len(stdout) == LOG_CAP and stdout.endswith(b"x") and b"FIRST" not in stdout
    assert (pair / "agent2_stderr.log").read_text() == "ERR\n"
    logs = load(pair / "result.json")["agents"]["agent1"]["logs"]
    assert logs["stdout.log"] == {
        "file": "agent1_stdout.log",
        "bytes": LOG_CAP + len("FIRST\n"),
        "truncated": True,
    }
    assert logs["stderr.log"]["truncated"] is False
    (pair / "agent9_stale.log").write_text("old")
    run("logs", agent_command="true", force=True, **options)
    names = {p.name for p in pair.iterdir()}
    assert "agent9_stale.log" not in names and "agent1_stdout.log" in names
    assert (pair / "agent1_stdout.log").read_bytes() == b""


def test_messaging_refusing_the_runs_settings_stops_the_run_at_once(tmp_path: Path) -> None:
    """A user mistake for this backend (no --redis where one is needed) is no pair's error."""

    def setup_messaging(request: Any) -> Any:
        raise UsageError("messaging here needs --redis URL")

    plugins = PluginManager()
    plugins.register(backend_module("picky", setup_messaging=setup_messaging), name="picky")
    with pytest.raises(UsageError, match="needs --redis URL"):
        run(
            "picky",
            task=0,
            backend="picky",
            dataset_dir=DATASET,
            log_dir=tmp_path,
            plugins=plugins,
        )
    assert not list((tmp_path / "picky").rglob("result.json"))
