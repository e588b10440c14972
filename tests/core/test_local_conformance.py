"""The sandbox contract, run against the built-in local backend."""

from cooperbench.testing import SandboxConformance


class TestLocalConformance(SandboxConformance):
    backend = "local"
