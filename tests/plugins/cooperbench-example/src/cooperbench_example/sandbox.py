"""The example backend's sandbox.

A real backend subclasses :class:`cooperbench.sandbox.SandboxBase` and implements
``_do_exec``, ``_do_write_file``, ``_do_read_file`` and ``_do_terminate`` against its
service. To run anywhere, this example reuses the local sandbox's implementation of
those four methods.
"""

from __future__ import annotations

from cooperbench.local import LocalSandbox


class ExampleSandbox(LocalSandbox):
    """A host-directory sandbox under the ``example`` backend name."""
