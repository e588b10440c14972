"""The plugin author's surface: one import, hooks with working examples, one error tree."""

from __future__ import annotations

import ast
import inspect
import textwrap
import types
from pathlib import Path

import pytest

import cooperbench.plugin
from cooperbench import errors, hookspecs
from cooperbench.backend_options import BackendOption
from cooperbench.backend_status import BackendStatus
from cooperbench.errors import CooperbenchError, MessagingError
from cooperbench.messaging.types import MessagingRequest
from cooperbench.plugin_manager import PluginManager
from cooperbench.plugin_validation import hook_names
from cooperbench.sandbox import SandboxRequest

ROOT = Path(__file__).resolve().parents[2]
CORE_SRC = ROOT / "cooperbench-core" / "src" / "cooperbench"
#: Code that is a backend plugin and must import cooperbench only through the facade.
PLUGIN_CODE = [
    ROOT / "cooperbench-docker" / "src",
    ROOT / "tests" / "plugins" / "cooperbench-example" / "src",
    CORE_SRC / "local" / "plugin.py",
]
HOOKS = hook_names()


def example_of(hook: str) -> str:
    """The code block after ``Example...::`` in the hook's docstring."""
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    marker = doc.find("::\n")
    assert marker != -1, f"the docstring of {hook} has no example"
    block = doc[marker + 3 :]
    return textwrap.dedent(block)


def load_example(hook: str) -> types.ModuleType:
    module = types.ModuleType(f"example_{hook}")
    exec(compile(example_of(hook), f"<{hook} example>", "exec"), module.__dict__)
    return module


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_example_registers_as_a_valid_plugin(hook: str) -> None:
    plugins = PluginManager()
    plugins.register(load_example(hook), name="doc-example")
    assert plugins.implements("doc-example", hook)


def test_create_sandbox_example_makes_a_working_sandbox() -> None:
    plugins = PluginManager()
    plugins.register(load_example("create_sandbox"), name="doc-example")
    with plugins.create_sandbox("doc-example", SandboxRequest(image="any")) as sandbox:
        assert sandbox.exec("echo", "hi").stdout_read() == "hi\n"


def test_check_backend_and_options_examples_answer() -> None:
    plugins = PluginManager()
    plugins.register(load_example("check_backend"), name="checked")
    plugins.register(load_example("backend_options"), name="optioned")
    assert plugins.check_backend("checked") == BackendStatus(
        True, "runs commands with the host's shell"
    )
    declared = plugins.backend_options("optioned")
    assert all(isinstance(option, BackendOption) for option in declared)
    assert plugins.resolve_options("optioned", {"gpus": "2"}) == {"gpus": 2}


def test_setup_messaging_example_namespaces_the_users_server() -> None:
    plugins = PluginManager()
    plugins.register(load_example("setup_messaging"), name="bus")
    request = MessagingRequest("run-1", ("agent1", "agent2"), redis_url="redis://10.0.0.5:6379")
    session = plugins.setup_messaging("bus", request)
    assert session.redis_url == "redis://10.0.0.5:6379#run:run-1"
    with pytest.raises(MessagingError):
        plugins.setup_messaging("bus", MessagingRequest("run-1", ("agent1",)))


def test_evaluate_patch_example_scores_a_pair(demo_logs: Path, demo_dataset: Path) -> None:
    from cooperbench import evaluate

    plugins = PluginManager.discover(disabled=())
    example = load_example("evaluate_patch")
    create = load_example("create_sandbox")
    plugins.register(
        types.SimpleNamespace(
            evaluate_patch=example.evaluate_patch, create_sandbox=create.create_sandbox
        ),
        name="one-by-one",
    )
    summary = evaluate(
        "gold",
        backend="one-by-one",
        task=0,
        features=(1, 2),
        log_dir=demo_logs,
        dataset_dir=demo_dataset,
        plugins=plugins,
    )
    assert summary["passed"] == 2


def test_cleanup_example_removes_only_dead_owners(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    import tempfile

    from cooperbench.labels import owner_labels

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    live = tmp_path / "my-backend-live"
    dead = tmp_path / "my-backend-dead"
    for folder in (live, dead):
        folder.mkdir()
    (live / "labels.json").write_text(json.dumps(owner_labels()))
    (dead / "labels.json").write_text(
        json.dumps({**owner_labels(), "cooperbench.owner-pid": "999999999"})
    )
    plugins = PluginManager()
    plugins.register(load_example("cleanup_resources"), name="cleaner")
    assert plugins.cleanup_resources("cleaner", dry_run=True) == [str(dead)]
    assert dead.exists()
    assert plugins.cleanup_resources("cleaner") == [str(dead)]
    assert not dead.exists() and live.exists()


def test_the_facade_exports_every_error_and_the_types_authors_need() -> None:
    exported = set(cooperbench.plugin.__all__)
    tree = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, CooperbenchError)
    }
    assert tree <= exported, f"missing from cooperbench.plugin: {sorted(tree - exported)}"
    needed = {
        "hookimpl",
        "Sandbox",
        "SandboxBase",
        "SandboxRequest",
        "ExecResult",
        "BackendStatus",
        "BackendOption",
        "MessagingRequest",
        "MessagingSession",
        "EvalRequest",
        "EvalContext",
        "EvalResult",
    }
    assert needed <= exported
    for name in exported:
        assert getattr(cooperbench.plugin, name) is not None


def _cooperbench_imports(path: Path) -> list[str]:
    modules = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            if node.module == "cooperbench" or node.module.startswith("cooperbench."):
                modules.append(names[0] if node.module != "cooperbench" else names[1])
        elif isinstance(node, ast.Import):
            modules += [a.name for a in node.names if a.name.split(".")[0] == "cooperbench"]
    return modules


def test_plugins_and_the_plugin_docs_import_cooperbench_only_through_the_facade() -> None:
    files = [p for root in PLUGIN_CODE for p in ([root] if root.is_file() else root.rglob("*.py"))]
    assert len(files) > 10
    for path in files:
        # Core's own local backend may use its implementation modules; nothing else.
        own = "cooperbench.local." if path.is_relative_to(CORE_SRC) else "cooperbench.plugin."
        for module in _cooperbench_imports(path):
            allowed = module == "cooperbench.plugin" or module.startswith(own)
            assert allowed, f"{path.relative_to(ROOT)} imports {module}"
    docs = (ROOT / "docs" / "plugins.md").read_text()
    for block in docs.split("```python")[1:]:
        code = block.split("```")[0]
        for line in code.splitlines():
            if line.startswith(("from cooperbench", "import cooperbench")):
                assert line.startswith(
                    ("from cooperbench.plugin import", "from cooperbench.testing import")
                ), line


def test_every_exception_the_project_raises_is_in_its_tree() -> None:
    allowed = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, CooperbenchError)
    }
    # Raised on purpose with a builtin: programming errors of a caller, not user mistakes.
    # AttributeError is what a module __getattr__ must raise.
    builtin_ok = {"NotImplementedError", "AttributeError", "KeyboardInterrupt", "SystemExit"}
    # coop_msg.py is shipped into sandboxes as a standalone command: it cannot import
    # cooperbench, and the host maps its errors onto the tree (messaging/resp.py).
    standalone = {CORE_SRC / "messaging" / "coop_msg.py"}
    problems = []
    sources = [*CORE_SRC.rglob("*.py"), *(ROOT / "cooperbench-docker" / "src").rglob("*.py")]
    for source in sorted(set(sources) - standalone):
        for node in ast.walk(ast.parse(source.read_text())):
            if not isinstance(node, ast.Raise) or node.exc is None:
                continue
            target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
            from_click = (
                isinstance(target, ast.Attribute) and getattr(target.value, "id", "") == "click"
            )
            if name and name[0].isupper() and name not in allowed | builtin_ok and not from_click:
                problems.append(f"{source.relative_to(ROOT)}:{node.lineno} raises {name}")
    assert not problems, "\n".join(problems)
