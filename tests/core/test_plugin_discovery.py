"""Backends resolve only through discovered plugins."""

from __future__ import annotations

import types
from pathlib import Path

import pytest
import tomllib

from cooperbench import get_backend, hookimpl
from cooperbench.backend_status import BackendStatus
from cooperbench.entry_points import disabled_from_env
from cooperbench.errors import PluginLoadError, SandboxError, UnknownBackendError
from cooperbench.evaluation.types import EvalContext
from cooperbench.local import LocalSandbox
from cooperbench.plugin_manager import FIRST_PARTY_EXTRAS, PluginManager, install_hint
from cooperbench.sandbox import SandboxRequest

ROOT = Path(__file__).resolve().parents[2]


def test_local_backend_comes_from_cores_entry_point() -> None:
    plugins = PluginManager.discover(disabled=())
    info = {p.name: p for p in plugins.plugins()}["local"]
    assert info.loaded
    assert info.dist_name == "cooperbench-core"
    assert info.value == "cooperbench.local.plugin"


def test_disabled_plugins_are_not_loaded_and_cannot_be_selected() -> None:
    plugins = PluginManager.discover(disabled={"local"})
    info = {p.name: p for p in plugins.plugins()}["local"]
    assert info.state == "disabled"
    assert "local" not in plugins.backend_names()
    with pytest.raises(PluginLoadError, match="COOPERBENCH_DISABLED_PLUGINS"):
        get_backend("local", plugins)


def test_disabled_list_is_read_from_the_environment() -> None:
    assert disabled_from_env({"COOPERBENCH_DISABLED_PLUGINS": " a, b ,,"}) == {"a", "b"}
    assert disabled_from_env({}) == set()


def test_unknown_backend_names_installed_ones_and_the_install_command() -> None:
    with pytest.raises(UnknownBackendError) as caught:
        get_backend("docker", PluginManager.discover(disabled=()))
    message = str(caught.value)
    assert "installed: " in message and "local" in message
    assert "pip install 'cooperbench[docker]'" in message
    assert isinstance(caught.value, LookupError)


def test_install_hints_name_only_extras_that_exist() -> None:
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    backend_extras = {extra for extra in root["optional-dependencies"] if extra != "all"}
    assert set(FIRST_PARTY_EXTRAS) == backend_extras


def test_install_hint_for_third_party_names() -> None:
    assert install_hint("k8s").startswith("pip install cooperbench-k8s")


def test_each_backend_answers_only_for_itself_without_comparing_names() -> None:
    def make(name: str) -> types.SimpleNamespace:
        @hookimpl
        def create_sandbox(request: SandboxRequest) -> object:
            return f"sandbox-from-{name}"

        return types.SimpleNamespace(create_sandbox=create_sandbox)

    plugins = PluginManager()
    plugins.register(make("alpha"), name="alpha")
    plugins.register(make("beta"), name="beta")
    assert plugins.create_sandbox("alpha", SandboxRequest(image="x")) == "sandbox-from-alpha"
    assert plugins.create_sandbox("beta", SandboxRequest(image="x")) == "sandbox-from-beta"


def test_a_plugin_answering_every_name_cannot_take_over_another_backend() -> None:
    @hookimpl(tryfirst=True)
    def create_sandbox(request: SandboxRequest) -> object:
        return "hijacked"

    @hookimpl(tryfirst=True)
    def check_backend() -> BackendStatus:
        return BackendStatus(False, "hijacked")

    plugins = PluginManager.discover(disabled=())
    greedy = types.SimpleNamespace(create_sandbox=create_sandbox, check_backend=check_backend)
    plugins.register(greedy, name="greedy")
    with plugins.create_sandbox("local", SandboxRequest(image="any")) as sandbox:
        assert isinstance(sandbox, LocalSandbox)
    assert plugins.check_backend("local").usable
    assert plugins.create_sandbox("greedy", SandboxRequest(image="any")) == "hijacked"


def test_core_default_evaluation_serves_a_backend_without_its_own() -> None:
    @hookimpl
    def create_sandbox(request: SandboxRequest) -> object:
        raise SandboxError("no capacity")

    plugins = PluginManager()
    plugins.register(types.SimpleNamespace(create_sandbox=create_sandbox), name="tiny")
    assert plugins.implements("tiny", "create_sandbox")
    assert not plugins.implements("tiny", "evaluate_patch")
    assert plugins.evaluate_patch("tiny", [], EvalContext(create_sandbox=lambda r: None)) == []


def test_a_check_that_raises_reports_unusable() -> None:
    @hookimpl
    def check_backend() -> None:
        raise RuntimeError("socket gone")

    plugins = PluginManager()
    plugins.register(types.SimpleNamespace(check_backend=check_backend), name="flaky")
    status = plugins.check_backend("flaky")
    assert not status.usable
    assert "socket gone" in status.detail
