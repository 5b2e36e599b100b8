"""One real Synapse per test session; fresh users and rooms per test (Synapse is CPU-bound)."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.localserver import LocalSynapse

_counter = itertools.count()


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSynapse]:
    with LocalSynapse(tmp_path_factory.mktemp("synapse")) as server:
        yield server


class Users:
    """Registers unique users on the session's server, so tests never share state."""

    def __init__(self, server: LocalSynapse) -> None:
        self.server = server
        self.tag = secrets.token_hex(3)

    def new(self, name: str) -> tuple[str, str]:
        """Register `name` (made unique) and return (user id, password)."""
        username = f"{name}{self.tag}{next(_counter)}"
        password = secrets.token_urlsafe(12)
        return self.server.register(username, password), password


@pytest.fixture
def users(synapse: LocalSynapse) -> Users:
    return Users(synapse)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir(mode=0o700)
    return path
