"""The exit statuses of the ``cooperbench`` command, defined once (docs/cli.md lists them)."""

from __future__ import annotations

#: Everything asked for was done: every selected pair has a verdict.
OK = 0
#: A failure that is not the user's mistake (see ``CooperbenchError.exit_code``).
FAILURE = 1
#: A usage mistake: bad flag, unknown backend or agent, bad selection.
USAGE = 2
#: The work ran to the end and every result is written, but some selected pairs have
#: no verdict: they ended in an infrastructure error (retried by the next invocation).
INCOMPLETE = 3
#: Interrupted (Ctrl-C or SIGTERM); everything finished before is kept.
INTERRUPTED = 130
