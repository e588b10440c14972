"""The sandbox contract, run against the Docker backend on a real engine."""

import pytest

from cooperbench.testing import SandboxConformance

pytestmark = pytest.mark.docker


class TestDockerConformance(SandboxConformance):
    backend = "docker"
    image = "cooperbench/base:latest"
