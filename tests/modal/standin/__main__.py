"""``python -m standin`` (from ``tests/modal``) or ``python -m tests.modal.standin``."""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

from .engine import connect, reap_dead_instances
from .server import Standin, serve


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and serve until interrupted (or just reap with ``--reap``)."""
    parser = argparse.ArgumentParser(prog="modal-standin", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="port (0: a free one)")
    parser.add_argument("--ready-file", type=Path, help="write the connection details here")
    parser.add_argument(
        "--state-dir", type=Path, help="where the CA file goes (default: a temp dir)"
    )
    parser.add_argument(
        "--reap", action="store_true", help="remove leftovers of dead instances, then exit"
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("docker").setLevel(logging.INFO)
    logging.getLogger("urllib3").setLevel(logging.INFO)
    if args.reap:
        print(f"removed {reap_dead_instances(connect())} leftover objects")
        return 0
    if args.state_dir:
        args.state_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(serve(Standin(args.host, args.port, args.state_dir), args.ready_file))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
