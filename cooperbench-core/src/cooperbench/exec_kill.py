"""Killing a sandbox command at its time limit from inside the sandbox, with ``sh`` only.

For backends whose exec API cannot kill what it started (Docker's exec, Modal's). The
backend runs every command under :func:`exec_wrapper` with a fresh token as its first
argument and the same token in the command's environment (:data:`EXEC_TOKEN_VAR`). The
wrapper writes its pid to a file named by the token, so on timeout a second exec of
:data:`KILL_SCRIPT` (as root, with the token as its argument) kills, until none is
left, every process of the wrapper's session or process group and every process whose
environment carries the token, which also catches children that started their own
session. Both scripts need nothing beyond a POSIX shell, ``grep`` and ``/proc``.
"""

from __future__ import annotations

#: Exit status reported for a command killed at its time limit (128 + SIGKILL).
KILLED_STATUS = 137
#: Environment variable carrying the per-command token.
EXEC_TOKEN_VAR = "COOPERBENCH_EXEC_ID"

_PID_FILE = "/tmp/.cooperbench-exec-$t.pid"

# The command runs in a subshell that execs it, so a name such as `echo` or `exit` runs
# the program, never a shell builtin, and a missing program exits 127 (126 when not
# executable) as in any shell.
_RECORD_PID_AND_RUN = (
    f'p="{_PID_FILE}"; echo $$ 2>/dev/null > "$p"; '
    '( exec "$@" ); rc=$?; rm -f "$p" 2>/dev/null; exit $rc'
)

#: Kills the command started with the token ``$1``; exits 0 when none of it is left.
KILL_SCRIPT = (
    "t=$1; r=; "
    # The wrapper writes its pid first thing; give a command that is just starting a
    # moment to do so (the token in its environment finds it in any case).
    f'n=0; while [ ! -s "{_PID_FILE}" ] && [ $n -lt 20 ]; do sleep 0.05; n=$((n + 1)); done; '
    f'read -r r 2>/dev/null < "{_PID_FILE}"; '
    'case "$r" in ""|1|*[!0-9]*) r=;; esac; '
    "i=0; while [ $i -lt 50 ]; do i=$((i + 1)); "
    f'tagged=; for f in $(grep -l -F "{EXEC_TOKEN_VAR}=$t" /proc/[0-9]*/environ 2>/dev/null); '
    'do tagged="$tagged $f "; done; '
    "victims=; for s in /proc/[0-9]*/stat; do "
    'p=${s#/proc/}; p=${p%/stat}; [ "$p" = "$$" ] && continue; '
    'line=; read -r line 2>/dev/null < "$s" || continue; '
    'set -- ${line##*) }; [ "$1" = Z ] && continue; '
    'case "$tagged" in *" /proc/$p/environ "*) victims="$victims $p"; continue;; esac; '
    'if [ -n "$r" ] && { [ "$3" = "$r" ] || [ "$4" = "$r" ]; }; then victims="$victims $p"; fi; '
    "done; "
    '[ -z "$victims" ] && break; kill -9 $victims 2>/dev/null; sleep 0.05; '
    f'done; rm -f "{_PID_FILE}" 2>/dev/null; exit 0'
)


def exec_wrapper(*, enter_workdir: bool = False) -> str:
    """The ``sh -c`` script every command runs under: ``$1`` is the token, then the argv.

    With ``enter_workdir`` (for an exec API without a working-directory setting) ``$2``
    is the directory to enter first; a directory that cannot be entered exits 125 with
    the token alone on stderr, which tells that apart from the command's own output.
    """
    if enter_workdir:
        enter = 't=$1; d=$2; shift 2; cd -- "$d" 2>/dev/null || { printf "%s\\n" "$t" >&2; exit 125; }; '
        return enter + _RECORD_PID_AND_RUN
    return "t=$1; shift; " + _RECORD_PID_AND_RUN
