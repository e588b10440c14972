"""The built-in ``local`` backend: commands run on the host in a private directory.

It isolates nothing (no container, same user, same network); it exists for harness
development and for machines without Docker.
"""

from cooperbench.local.sandbox import LocalSandbox

__all__ = ["LocalSandbox"]
