"""Entry point of the ``cooperbench`` command: the group, its commands, error handling.

User mistakes end in one ``error: ...`` line on stderr and a non-zero exit, never a
traceback; unexpected failures still show one (they are bugs to report).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from cooperbench.cli import exit_codes
from cooperbench.cli.agents_cmd import agents_command
from cooperbench.cli.backends_cmd import backends_command
from cooperbench.cli.cleanup_cmd import cleanup_command
from cooperbench.cli.config_cmd import config_command
from cooperbench.cli.eval_cmd import eval_command
from cooperbench.cli.report_cmd import report_command
from cooperbench.cli.run_cmd import run_command
from cooperbench.errors import CooperbenchError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cooperbench-core", prog_name="cooperbench")
def cli() -> None:
    """Run coding agents on cooperative benchmark tasks and score their patches."""


cli.add_command(agents_command)
cli.add_command(backends_command)
cli.add_command(cleanup_command)
cli.add_command(config_command)
cli.add_command(eval_command)
cli.add_command(report_command)
cli.add_command(run_command)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the CLI and turn known errors into one readable line."""
    try:
        code = cli.main(args=list(argv) if argv is not None else None, standalone_mode=False)
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        _fail(f"{exc.format_message()}{hint}", exc.exit_code)
    except click.ClickException as exc:
        _fail(exc.format_message(), exc.exit_code)
    except click.exceptions.Abort:
        # click turns Ctrl-C into Abort; by now the command has cleaned up.
        _fail("interrupted", exit_codes.INTERRUPTED)
    except KeyboardInterrupt:
        _fail("interrupted", exit_codes.INTERRUPTED)
    except CooperbenchError as exc:
        _fail(str(exc), exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(message: str, code: int) -> None:
    click.echo(f"error: {' '.join(message.split())}", err=True)
    sys.exit(code)
