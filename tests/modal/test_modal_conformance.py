"""The sandbox contract, run against the Modal backend: the real SDK and the stand-in."""

import pytest

from cooperbench.testing import SandboxConformance

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("modal_standin")]


class TestModalConformance(SandboxConformance):
    backend = "modal"
    image = "cooperbench/base:latest"
