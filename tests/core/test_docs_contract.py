"""The reference docs cannot drift from the code: hooks in plugins.md, options in cli.md."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from cooperbench.cli.backends_cmd import BACKEND_STATES
from cooperbench.cli.main import cli
from cooperbench.entry_points import PLUGIN_STATES
from cooperbench.plugin_validation import hook_names, spec_signature

DOCS = Path(__file__).resolve().parents[2] / "docs"
_DEFAULT_IN_HELP = re.compile(r"\[default: ([^\]]+)\]")


def test_every_hook_is_documented_with_its_exact_signature() -> None:
    text = (DOCS / "plugins.md").read_text()
    for hook in hook_names():
        assert f"### `{spec_signature(hook)}`" in text, f"docs/plugins.md lacks {hook}"


def section(text: str, heading: str) -> str:
    """The Markdown section under the ``##`` heading that starts with ``heading``."""
    match = re.search(rf"^## `{re.escape(heading)}[` ].*?$(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"no section '## `{heading}...' in docs/cli.md"
    return match.group(1)


def option_rows(text: str) -> dict[str, str]:
    """``{flags: default}`` from the section's option table."""
    rows = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| `-") and len(cells) == 3:
            rows[cells[0].strip("`")] = cells[1]
    return rows


def documented_default(option: click.Option) -> str:
    """How docs/cli.md must show ``option``'s default."""
    if option.required:
        return "required"
    if option.is_flag:
        return "off"
    if option.multiple:
        return "none"
    if not isinstance(option.default, (str, int, float)):  # None, or click's UNSET
        found = _DEFAULT_IN_HELP.search(" ".join((option.help or "").split()))
        return f"`{found.group(1)}`" if found else "none"
    return f"`{option.default}`"


def commands() -> list[tuple[str, click.Command]]:
    return sorted(cli.commands.items())


@pytest.mark.parametrize(("name", "command"), commands(), ids=[n for n, _ in commands()])
def test_cli_reference_lists_every_option_with_its_default(
    name: str, command: click.Command
) -> None:
    documented = option_rows(section((DOCS / "cli.md").read_text(), f"cooperbench {name}"))
    actual = {
        "/".join(param.opts): documented_default(param)
        for param in command.params
        if isinstance(param, click.Option) and param.name != "help"
    }
    assert documented == actual


def test_status_words_are_the_ones_the_code_prints() -> None:
    text = (DOCS / "cli.md").read_text()
    backends = section(text, "cooperbench backends")
    agents = section(text, "cooperbench agents")
    for word in BACKEND_STATES:
        assert f"`{word}`" in backends
    for word in PLUGIN_STATES:
        assert f"`{word}`" in agents
