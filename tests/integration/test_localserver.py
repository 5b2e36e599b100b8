"""Integration tests for bot.localserver: a real Synapse, started and stopped on 127.0.0.1.

These tests are the foundation of every other integration test: if the harness leaks a server,
registers users wrongly or hides startup errors, everything built on it fails in confusing ways.
"""

from __future__ import annotations

import json
import os
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.localserver import LocalSynapse, LocalSynapseError

pytestmark = pytest.mark.integration

# No proxy: the environment's HTTP(S)_PROXY must not capture requests to 127.0.0.1.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _get_json(url: str, token: str | None = None) -> tuple[int, dict[str, object]]:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    request = urllib.request.Request(url, headers=headers)
    with _OPENER.open(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def _port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSynapse]:
    """One server for the module: starting Synapse costs seconds, users are cheap."""
    with LocalSynapse(tmp_path_factory.mktemp("synapse")) as hs:
        yield hs


def test_versions_answers(synapse: LocalSynapse) -> None:
    assert synapse.url.startswith("http://127.0.0.1:")
    assert synapse.server_name == "localhost"
    assert synapse.shared_secret
    status, body = _get_json(f"{synapse.url}/_matrix/client/versions")
    assert status == 200
    assert isinstance(body["versions"], list)
    assert body["versions"]


def test_register_and_login(synapse: LocalSynapse) -> None:
    assert synapse.register("alice", "alice-password") == "@alice:localhost"
    assert synapse.register("bob", "bob-password", admin=True) == "@bob:localhost"

    token, device_id = synapse.login("alice", "alice-password")
    assert token
    assert device_id
    status, whoami = _get_json(f"{synapse.url}/_matrix/client/v3/account/whoami", token)
    assert status == 200
    assert whoami["user_id"] == "@alice:localhost"
    assert whoami["device_id"] == device_id


def test_register_twice_is_a_clear_error(synapse: LocalSynapse) -> None:
    synapse.register("carol", "carol-password")
    with pytest.raises(LocalSynapseError, match="M_USER_IN_USE") as caught:
        synapse.register("carol", "carol-password")
    assert caught.value.errcode == "M_USER_IN_USE"
    assert caught.value.status == 400


def test_wrong_password_is_a_clear_error(synapse: LocalSynapse) -> None:
    synapse.register("dave", "dave-password")
    with pytest.raises(LocalSynapseError) as caught:
        synapse.login("dave", "not-the-password")
    assert caught.value.errcode == "M_FORBIDDEN"


def test_stop_frees_the_port_and_ends_the_process(tmp_path: Path) -> None:
    """Its own server, so stopping it cannot disturb the module's shared one."""
    hs = LocalSynapse(tmp_path, extra_config={"rc_message": {"per_second": 1, "burst_count": 5}})
    hs.start()
    try:
        assert hs.running
        port, pid = hs.port, hs.pid
        assert pid is not None
        assert _port_answers(port)
        config = json.loads(hs.config_path.read_text(encoding="utf-8"))
        assert config["rc_message"] == {"per_second": 1, "burst_count": 5}
        assert config["rc_joins"]["local"]["per_second"] == 10000
    finally:
        hs.stop()
    assert not hs.running
    assert not _port_answers(port)
    assert not _process_exists(pid)
    hs.stop()  # idempotent


def test_failed_start_reports_the_log(tmp_path: Path) -> None:
    """A server that cannot start must say why, not time out silently."""
    hs = LocalSynapse(tmp_path, extra_config={"database": {"name": "no-such-engine"}})
    with pytest.raises(RuntimeError, match="exited during startup") as caught:
        hs.start()
    assert "no-such-engine" in str(caught.value)
    assert not hs.running
