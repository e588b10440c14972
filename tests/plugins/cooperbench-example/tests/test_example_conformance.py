"""How a plugin author runs core's sandbox contract against their backend."""

from cooperbench.testing import SandboxConformance


class TestExampleConformance(SandboxConformance):
    backend = "example"
