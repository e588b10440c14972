"""Backends resolve only through discovered plugins."""

from __future__ import annotations

import types

import pytest

from cooperbench import get_backend, hookimpl
from cooperbench.errors import PluginLoadError, UnknownBackendError
from cooperbench.plugins import PluginManager, disabled_from_env, install_hint
from cooperbench.sandbox import SandboxRequest


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
        get_backend("modal", PluginManager.discover(disabled=()))
    message = str(caught.value)
    assert "installed: " in message and "local" in message
    assert "pip install 'cooperbench[modal]'" in message
    assert isinstance(caught.value, LookupError)


def test_install_hint_for_third_party_names() -> None:
    assert install_hint("k8s").startswith("pip install cooperbench-k8s")


def test_first_plugin_owning_the_name_answers() -> None:
    calls: list[str] = []

    def make(name: str) -> types.SimpleNamespace:
        @hookimpl
        def create_sandbox(backend: str, request: SandboxRequest) -> object | None:
            calls.append(name)
            return f"sandbox-from-{name}" if backend == name else None

        return types.SimpleNamespace(create_sandbox=create_sandbox)

    plugins = PluginManager()
    plugins.register(make("alpha"), name="alpha")
    plugins.register(make("beta"), name="beta")
    assert plugins.create_sandbox("alpha", SandboxRequest(image="x")) == "sandbox-from-alpha"
    assert plugins.create_sandbox("beta", SandboxRequest(image="x")) == "sandbox-from-beta"


def test_a_check_that_raises_reports_unusable() -> None:
    @hookimpl
    def check_backend(backend: str) -> None:
        raise RuntimeError("socket gone")

    plugins = PluginManager()
    plugins.register(types.SimpleNamespace(check_backend=check_backend), name="flaky")
    status = plugins.check_backend("flaky")
    assert not status.usable
    assert "socket gone" in status.detail
