"""Fixtures for the Modal backend tests: a local stand-in of Modal's servers.

The stand-in (``tests/modal/standin``) runs as a subprocess on a free 127.0.0.1 port and
backs sandboxes with the local Docker engine, so every test here needs the engine and is
marked ``docker`` (it skips without one, except in CI).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from standin.harness import ModalStandin, start_standin, stop_standin

HERE = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Every Modal test talks to the stand-in, which needs the Docker engine: mark them
    # before the root conftest applies its skip-unless-CI rule to marked tests.
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.docker)


@pytest.fixture(scope="session")
def modal_standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModalStandin]:
    """A stand-in for the whole session; the SDK settings in this process point at it.

    Sets ``MODAL_SERVER_URL``, ``MODAL_TOKEN_ID``, ``MODAL_TOKEN_SECRET``,
    ``MODAL_DISABLE_API_PROXY`` and ``MODAL_CONFIG_PATH`` (see ``ModalStandin.sdk_env``)
    for the session, and nothing else; ``SSL_CERT_FILE`` is left to the tests that
    need it (``modal_standin.ca_file``).
    """
    pytest.importorskip("modal")
    pytest.importorskip("docker")
    pytest.importorskip("trustme")
    standin = start_standin(tmp_path_factory.mktemp("modal-standin"))
    try:
        with pytest.MonkeyPatch.context() as patch:
            for name, value in standin.sdk_env().items():
                patch.setenv(name, value)
            yield standin
    finally:
        stop_standin(standin.process)


@pytest.fixture(scope="session")
def modal_env(modal_standin: ModalStandin) -> dict[str, str]:
    """The environment for subprocesses that must reach the stand-in (a full copy)."""
    return modal_standin.subprocess_env()
