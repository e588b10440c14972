"""Plugins are checked at discovery: unknown hooks, wrong signatures and name conflicts.

Each test installs tiny but real distributions (a dist-info folder with entry points
beside a module) on ``sys.path``, where importlib.metadata finds them exactly as it
finds installed packages.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from cooperbench.cli.main import cli
from cooperbench.errors import PluginConflictError, PluginLoadError
from cooperbench.plugin_manager import PluginManager

GOOD_MODULE = """
from cooperbench.plugin import BackendOption, BackendStatus, LocalSandbox, hookimpl

@hookimpl
def create_sandbox(request):
    return LocalSandbox.create(request)

@hookimpl
def check_backend():
    return BackendStatus(True, "fine")

@hookimpl
def backend_options():
    return [BackendOption("zone", str, "eu", "Where sandboxes run."),
            BackendOption("cpus", float, 1.0, "CPUs.", check=lambda v: "too many" if v > 64 else None)]
"""


def install(site: Path, dist: str, backends: dict[str, str]) -> None:
    """Install distribution ``dist`` whose entry points map backend names to module sources."""
    module_prefix = dist.replace("-", "_")
    info = site / f"{module_prefix}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    lines = ["[cooperbench]"]
    for name, source in backends.items():
        module = f"{module_prefix}_{name}"
        (site / f"{module}.py").write_text(textwrap.dedent(source))
        lines.append(f"{name} = {module}")
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("COOPERBENCH_DISABLED_PLUGINS", raising=False)
    return tmp_path


def states(plugins: PluginManager) -> dict[tuple[str, str | None], str]:
    return {(info.name, info.dist_name): info.state for info in plugins.plugins()}


def test_misspelled_hook_marks_only_that_plugin_broken(site: Path) -> None:
    install(
        site,
        "cooperbench-typo",
        {
            "typo": """
            from cooperbench.plugin import hookimpl

            @hookimpl
            def create_sandbx(request):
                return None
            """,
            "fine": GOOD_MODULE,
        },
    )
    plugins = PluginManager.discover()
    info = {p.name: p for p in plugins.plugins()}
    assert info["typo"].state == "broken"
    assert "'create_sandbx' is not a cooperbench hook" in (info["typo"].error or "")
    assert "did you mean 'create_sandbox'?" in (info["typo"].error or "")
    assert info["fine"].loaded and info["local"].loaded
    with pytest.raises(PluginLoadError, match=r"create_sandbx.*cooperbench-typo"):
        plugins.require_backend("typo")


def test_wrong_signature_names_the_hook_and_the_argument(site: Path) -> None:
    install(
        site,
        "cooperbench-sig",
        {
            "sig": """
            from cooperbench.plugin import hookimpl

            @hookimpl
            def create_sandbox(request, region):
                return None
            """
        },
    )
    info = {p.name: p for p in PluginManager.discover().plugins()}["sig"]
    assert info.state == "broken"
    assert "hook 'create_sandbox' takes region, which the hook does not pass" in (info.error or "")
    assert "create_sandbox(backend: str, request: SandboxRequest)" in (info.error or "")


def test_a_module_without_hook_implementations_is_broken(site: Path) -> None:
    install(site, "cooperbench-bare", {"bare": "def create_sandbox(request):\n    return None\n"})
    info = {p.name: p for p in PluginManager.discover().plugins()}["bare"]
    assert info.state == "broken"
    assert "implements no cooperbench hook" in (info.error or "")


def test_two_distributions_with_one_name_are_a_conflict(site: Path) -> None:
    install(site, "cooperbench-twin-a", {"twin": GOOD_MODULE})
    install(site, "cooperbench-twin-b", {"twin": GOOD_MODULE})
    plugins = PluginManager.discover()
    found = states(plugins)
    assert found[("twin", "cooperbench-twin-a")] == "conflict"
    assert found[("twin", "cooperbench-twin-b")] == "conflict"
    assert "twin" not in plugins.backend_names()
    with pytest.raises(PluginConflictError) as caught:
        plugins.require_backend("twin")
    message = str(caught.value)
    assert "cooperbench-twin-a 1.0 and cooperbench-twin-b 1.0" in message
    assert "pip uninstall cooperbench-twin-b" in message
    assert "COOPERBENCH_DISABLED_PLUGINS=cooperbench-twin-b:twin" in message


def test_disabling_one_registration_resolves_a_conflict(site: Path) -> None:
    install(site, "cooperbench-twin-a", {"twin": GOOD_MODULE})
    install(site, "cooperbench-twin-b", {"twin": GOOD_MODULE})
    plugins = PluginManager.discover(disabled={"cooperbench-twin-b:twin"})
    found = states(plugins)
    assert found[("twin", "cooperbench-twin-a")] == "loaded"
    assert found[("twin", "cooperbench-twin-b")] == "disabled"
    assert plugins.require_backend("twin").dist_name == "cooperbench-twin-a"


def test_backends_command_shows_conflicts_hooks_and_broken_plugins(site: Path) -> None:
    install(site, "cooperbench-twin-a", {"twin": GOOD_MODULE, "good": GOOD_MODULE})
    install(site, "cooperbench-twin-b", {"twin": GOOD_MODULE})
    install(site, "cooperbench-typo", {"typo": "from cooperbench.plugin import hookimpl\n"})
    done = CliRunner().invoke(cli, ["backends", "--json"])
    assert done.exit_code == 0, done.output
    rows = json.loads(done.output)
    by_key = {(row["name"], row["distribution"]): row for row in rows}
    twin_a = by_key[("twin", "cooperbench-twin-a")]
    assert twin_a["state"] == "conflict"
    assert twin_a["detail"] == "also registered by cooperbench-twin-b 1.0"
    assert by_key[("good", "cooperbench-twin-a")]["hooks"] == [
        "backend_options",
        "check_backend",
        "create_sandbox",
    ]
    assert by_key[("good", "cooperbench-twin-a")]["state"] == "usable"
    assert by_key[("typo", "cooperbench-typo")]["state"] == "broken"
    local = by_key[("local", "cooperbench-core")]
    assert local["hooks"] == [
        "check_backend",
        "cleanup_resources",
        "create_sandbox",
        "setup_messaging",
    ]
    table = CliRunner().invoke(cli, ["backends"])
    assert table.exit_code == 0
    assert "HOOKS" in table.output.splitlines()[0]


def test_selecting_a_conflicting_backend_is_one_line(site: Path, tmp_path: Path) -> None:
    from cooperbench.cli.main import main

    install(site, "cooperbench-twin-a", {"twin": GOOD_MODULE})
    install(site, "cooperbench-twin-b", {"twin": GOOD_MODULE})
    with pytest.raises(SystemExit) as exited:
        main(["eval", "-n", "x", "--backend", "twin", "--log-dir", str(tmp_path)])
    assert exited.value.code == 2


def test_backend_options_are_listed_checked_and_typed(site: Path) -> None:
    install(site, "cooperbench-opts", {"opts": GOOD_MODULE})
    listing = CliRunner().invoke(cli, ["backends", "--options", "opts", "--json"])
    assert listing.exit_code == 0, listing.output
    assert json.loads(listing.output)[0] == {
        "name": "zone",
        "type": "str",
        "default": "eu",
        "help": "Where sandboxes run.",
    }
    table = CliRunner().invoke(cli, ["backends", "--options", "opts"])
    assert table.output.splitlines()[0].split() == ["OPTION", "TYPE", "DEFAULT", "HELP"]
    assert (
        "backend 'local' has no options"
        in CliRunner().invoke(cli, ["backends", "--options", "local"]).output
    )
    plugins = PluginManager.discover()
    assert plugins.resolve_options("opts", {"cpus": "2.5", "zone": "us"}) == {
        "cpus": 2.5,
        "zone": "us",
    }
    with pytest.raises(ValueError, match="has no option 'region' \\(its options: cpus, zone\\)"):
        plugins.resolve_options("opts", {"region": "x"})
    with pytest.raises(ValueError, match="cpus='many': not a number"):
        plugins.resolve_options("opts", {"cpus": "many"})
    with pytest.raises(ValueError, match="backend option cpus: too many"):
        plugins.resolve_options("opts", {"cpus": 128})
    with pytest.raises(ValueError, match="has no option 'cpus' \\(its options: none\\)"):
        plugins.resolve_options("local", {"cpus": 1})
