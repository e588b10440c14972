"""The example backend's sandbox.

A real backend subclasses :class:`cooperbench.plugin.SandboxBase` and implements
``_do_exec``, ``_do_write_file``, ``_do_read_file`` and ``_do_terminate`` against its
service. To run anywhere, this example reuses the local sandbox's implementation of
those four methods.
"""

from __future__ import annotations

from cooperbench.plugin import LocalSandbox, SandboxRequest


class ExampleSandbox(LocalSandbox):
    """A host-directory sandbox under the ``example`` backend name."""

    @classmethod
    def create(cls, request: SandboxRequest) -> LocalSandbox:
        """Create the sandbox and write the ``greeting`` option into its README."""
        sandbox = super().create(request)
        sandbox.write_file("README", f"{request.options.get('greeting', 'hello')}\n")
        return sandbox
