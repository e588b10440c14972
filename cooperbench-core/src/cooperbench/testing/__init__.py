"""Reusable test kits for backend authors (needs ``cooperbench-core[testing]``).

Run the sandbox contract against any backend by name::

    from cooperbench.testing import SandboxConformance

    class TestMyBackendConformance(SandboxConformance):
        backend = "k8s"
        image = "my-registry/base:latest"
"""

from cooperbench.testing.conformance import SandboxConformance

__all__ = ["SandboxConformance"]
