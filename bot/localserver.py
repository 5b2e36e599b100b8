"""A throwaway local Synapse homeserver for the integration tests and for `halte demo`.

The bot has to be tested against a real homeserver: mocks of the Matrix API drift from what Synapse
really does (rate limits, sync ordering, error codes). Synapse is heavy but installable with pip, so
this module starts one on 127.0.0.1, in a directory the caller owns, and tears it down afterwards.

It is deliberately synchronous and uses only the standard library (``subprocess``, ``urllib``): the
test fixtures and the demo command call it before any event loop exists, and it must not add a
dependency to the bot package. Synapse itself runs in a separate process (``sys.executable -m
synapse.app.homeserver``), so it is only needed in the environment, not imported here.
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import hmac
import http.client
import json
import secrets
import signal
import socket
import string
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final, Self

__all__ = ["LocalSynapse", "LocalSynapseError"]

#: Every rate limit the bot or its tests can hit. Synapse's defaults throttle a test suite after
#: about ten messages (429 ``M_LIMIT_EXCEEDED``, silently retried by nio), which only makes tests
#: slow, so they are all lifted. A test that wants real 429s overrides one through ``extra_config``.
RELAXED_RATE_LIMITS: Final[tuple[str, ...]] = (
    "rc_message",
    "rc_registration",
    "rc_joins.local",
    "rc_joins.remote",
    "rc_joins_per_room",
    "rc_login.address",
    "rc_login.account",
    "rc_login.failed_attempts",
    "rc_invites.per_room",
    "rc_invites.per_user",
    "rc_invites.per_issuer",
    "rc_room_creation",
    "rc_key_requests",
    "rc_admin_redaction",
)

_RELAXED_LIMIT: Final[dict[str, int]] = {"per_second": 10000, "burst_count": 10000}
_POLL_INTERVAL_S: Final = 0.1
_STOP_GRACE_S: Final = 10.0
_HTTP_TIMEOUT_S: Final = 30.0
_LOG_TAIL_LINES: Final = 40
_PORT_ATTEMPTS: Final = 3

# A proxy-free opener: a developer's or CI's HTTP(S)_PROXY must not capture calls to 127.0.0.1
# (urllib honours those variables, and not every environment lists localhost in NO_PROXY).
_OPENER: Final = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class LocalSynapseError(RuntimeError):
    """A request to the local homeserver failed; carries Synapse's status and ``errcode``.

    Tests assert on ``errcode`` (e.g. ``M_USER_IN_USE``) rather than on message text, which
    Synapse rewords between releases.
    """

    def __init__(self, message: str, *, status: int | None = None, errcode: str | None = None):
        super().__init__(message)
        self.status = status
        self.errcode = errcode


def _free_port() -> int:
    """Ask the kernel for a free TCP port on 127.0.0.1.

    The socket is closed before Synapse binds the port, so another process may grab it in
    between; ``LocalSynapse.start`` retries with a new port when that happens.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``extra`` into a copy of ``base``, recursing into nested mappings.

    Recursing lets a caller change one nested key such as ``rc_login.account`` without
    restating its siblings; lists and scalars are replaced whole.
    """
    merged = dict(base)
    for key, value in extra.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            merged[key] = _merge(current, value)
        else:
            merged[key] = value
    return merged


def _tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    """Return the last ``lines`` lines of a file, or a placeholder; used in startup errors."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return f"<{path.name} unreadable or absent>"
    kept = text.splitlines()[-lines:]
    return "\n".join(kept) if kept else f"<{path.name} is empty>"


class LocalSynapse:
    """A real Synapse listening on 127.0.0.1, configured for tests, living in ``workdir``.

    Use it as a context manager (``with LocalSynapse(tmp_path) as hs: ...``) or call
    :meth:`start` and :meth:`stop`. The configuration is written by this class rather than by
    ``--generate-config`` (about 2.5 s, mostly key generation), with federation off, registration
    only through the shared-secret admin API, and every rate limit relaxed.

    ``extra_config`` is merged (recursively) over the generated ``homeserver.yaml``: for example
    ``{"rc_message": {"per_second": 0.5, "burst_count": 2}}`` for a test that wants real 429s.
    The SQLite database stays in ``workdir``, so stopping and starting again keeps users and rooms.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        extra_config: Mapping[str, Any] | None = None,
        start_timeout: float = 60.0,
        server_name: str = "localhost",
    ) -> None:
        self.workdir = Path(workdir)
        self.extra_config: dict[str, Any] = dict(extra_config or {})
        self.start_timeout = start_timeout
        self._server_name = server_name
        self._shared_secret = secrets.token_urlsafe(32)
        self._port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None
        self._pid: int | None = None

    # -- public attributes -------------------------------------------------------------------

    @property
    def server_name(self) -> str:
        """The homeserver's name, the part after ``:`` in user ids."""
        return self._server_name

    @property
    def shared_secret(self) -> str:
        """The ``registration_shared_secret`` (lets callers register users their own way)."""
        return self._shared_secret

    @property
    def port(self) -> int:
        """The TCP port of the client listener; only known once :meth:`start` has run."""
        if self._port is None:
            raise RuntimeError("LocalSynapse has not been started")
        return self._port

    @property
    def url(self) -> str:
        """Base URL of the client API, e.g. ``http://127.0.0.1:8448``, to give to a client."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """PID of the server process, kept after :meth:`stop` so tests can check it is gone."""
        return self._pid

    @property
    def running(self) -> bool:
        """Whether the server process is still alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def config_path(self) -> Path:
        """Where ``homeserver.yaml`` is written."""
        return self.workdir / "homeserver.yaml"

    @property
    def log_path(self) -> Path:
        """Synapse's own log (WARNING and above), the first place to look when a test fails."""
        return self.workdir / "homeserver.log"

    @property
    def output_path(self) -> Path:
        """The server's stdout and stderr, where errors before logging is set up end up."""
        return self.workdir / "synapse.out"

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Write the configuration, launch Synapse and block until its client API answers.

        Raises :class:`RuntimeError` (with the tail of the logs) if the process dies or
        ``/_matrix/client/versions`` does not answer 200 within ``start_timeout`` seconds.
        """
        if self._process is not None:
            raise RuntimeError("LocalSynapse is already started")
        self.workdir.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, _PORT_ATTEMPTS + 1):
            self._port = _free_port()
            self._write_files()
            self._launch()
            try:
                self._wait_until_ready()
            except RuntimeError:
                lost_race = "Address already in use" in self._read_logs()
                self.stop()
                # The free port can be taken between our probe and Synapse's bind: retry then,
                # and only then; any other failure is real and reported at once.
                if lost_race and attempt < _PORT_ATTEMPTS:
                    continue
                raise
            return

    def stop(self) -> None:
        """Stop the server: SIGTERM, up to 10 s of grace, then SIGKILL. Safe to call twice."""
        process, self._process = self._process, None
        if process is not None:
            atexit.unregister(self.stop)
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=_STOP_GRACE_S)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        if self._output is not None:
            self._output.close()
            self._output = None

    # -- users -------------------------------------------------------------------------------

    def register(self, username: str, password: str, admin: bool = False) -> str:
        """Create a user through the shared-secret admin API and return its full user id.

        This is the only way in: open registration is disabled so that the demo server cannot
        be used by anyone else on the machine. Raises :class:`LocalSynapseError` (``errcode``
        ``M_USER_IN_USE`` for a duplicate) when Synapse refuses.
        """
        path = "/_synapse/admin/v1/register"
        nonce = str(self._request("GET", path)["nonce"])
        mac = hmac.new(self._shared_secret.encode(), digestmod=hashlib.sha1)
        mac.update(
            b"\x00".join(
                (
                    nonce.encode(),
                    username.encode(),
                    password.encode(),
                    b"admin" if admin else b"notadmin",
                )
            )
        )
        body = {
            "nonce": nonce,
            "username": username,
            "password": password,
            "admin": admin,
            "mac": mac.hexdigest(),
        }
        return str(self._request("POST", path, body)["user_id"])

    def login(self, username: str, password: str) -> tuple[str, str]:
        """Log a user in with a password; return ``(access_token, device_id)``.

        Each call creates a new device, which is what a test simulating a fresh client wants.
        """
        body = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": username},
            "password": password,
        }
        answer = self._request("POST", "/_matrix/client/v3/login", body)
        return str(answer["access_token"]), str(answer["device_id"])

    # -- internals ---------------------------------------------------------------------------

    def _config(self) -> dict[str, Any]:
        """Build ``homeserver.yaml`` as a dict: a client-only, federation-free test server."""
        workdir = self.workdir.resolve()
        config: dict[str, Any] = {
            "server_name": self._server_name,
            "public_baseurl": f"{self.url}/",
            "pid_file": str(workdir / "homeserver.pid"),
            "listeners": [
                {
                    "port": self.port,
                    "type": "http",
                    "tls": False,
                    "bind_addresses": ["127.0.0.1"],
                    "x_forwarded": False,
                    "resources": [{"names": ["client"], "compress": False}],
                }
            ],
            "database": {
                "name": "sqlite3",
                "args": {"database": str(workdir / "homeserver.db")},
            },
            "log_config": str(workdir / "log_config.yaml"),
            "media_store_path": str(workdir / "media_store"),
            "signing_key_path": str(workdir / "signing.key"),
            "macaroon_secret_key": secrets.token_urlsafe(32),
            "form_secret": secrets.token_urlsafe(32),
            "registration_shared_secret": self._shared_secret,
            "enable_registration": False,
            "report_stats": False,
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "federation_domain_whitelist": [],
            "bcrypt_rounds": 4,
            "presence": {"enabled": False},
            "url_preview_enabled": False,
            "enable_metrics": False,
            "push": {"enabled": False},
            "user_directory": {"enabled": False},
            "stats": {"enabled": False},
        }
        for dotted in RELAXED_RATE_LIMITS:
            outer, _, inner = dotted.partition(".")
            if inner:
                config.setdefault(outer, {})[inner] = dict(_RELAXED_LIMIT)
            else:
                config[outer] = dict(_RELAXED_LIMIT)
        return _merge(config, self.extra_config)

    def _log_config(self) -> dict[str, Any]:
        """Logging for Synapse: WARNING and above into a file, nothing on the console."""
        return {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {
                "precise": {
                    "format": "%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - "
                    "%(request)s - %(message)s"
                }
            },
            "handlers": {
                "file": {
                    "class": "logging.FileHandler",
                    "formatter": "precise",
                    "filename": str(self.log_path.resolve()),
                    "encoding": "utf8",
                }
            },
            "root": {"level": "WARNING", "handlers": ["file"]},
        }

    def _write_files(self) -> None:
        """Write the YAML files (as JSON, which is valid YAML) and the signing key if missing.

        An existing signing key is kept so a restarted server signs with the same key as the
        events already in its database.
        """
        self.config_path.write_text(json.dumps(self._config(), indent=2), encoding="utf-8")
        (self.workdir / "log_config.yaml").write_text(
            json.dumps(self._log_config(), indent=2), encoding="utf-8"
        )
        key_path = self.workdir / "signing.key"
        if not key_path.exists():
            alphabet = string.ascii_letters + string.digits
            key_id = "a_" + "".join(secrets.choice(alphabet) for _ in range(4))
            seed = base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")
            key_path.write_text(f"ed25519 {key_id} {seed}\n", encoding="utf-8")
            key_path.chmod(0o600)

    def _launch(self) -> None:
        """Start the Synapse process in its own session so a terminal's Ctrl-C does not hit it."""
        self._output = self.output_path.open("ab")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "synapse.app.homeserver", "-c", str(self.config_path)],
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._pid = self._process.pid
        # A caller that crashes or forgets stop() must not leave a server behind.
        atexit.register(self.stop)

    def _wait_until_ready(self) -> None:
        """Poll ``/_matrix/client/versions`` every 0.1 s until it answers 200."""
        deadline = time.monotonic() + self.start_timeout
        while True:
            process = self._process
            if process is None or process.poll() is not None:
                code = None if process is None else process.returncode
                raise RuntimeError(
                    f"Synapse exited during startup (exit code {code}).\n{self._read_logs()}"
                )
            if self._versions_ok():
                return
            if time.monotonic() >= deadline:
                raise RuntimeError(
                    f"Synapse did not answer {self.url}/_matrix/client/versions within "
                    f"{self.start_timeout:g} s.\n{self._read_logs()}"
                )
            time.sleep(_POLL_INTERVAL_S)

    def _versions_ok(self) -> bool:
        """One readiness probe; any connection error just means "not yet"."""
        try:
            with _OPENER.open(f"{self.url}/_matrix/client/versions", timeout=1.0) as response:
                return bool(response.status == 200)
        except (OSError, http.client.HTTPException):
            return False

    def _read_logs(self) -> str:
        """Tails of both the log file and the raw output, for error messages."""
        return (
            f"--- {self.log_path} (last {_LOG_TAIL_LINES} lines) ---\n{_tail(self.log_path)}\n"
            f"--- {self.output_path} (last {_LOG_TAIL_LINES} lines) ---\n"
            f"{_tail(self.output_path)}"
        )

    def _request(
        self, method: str, path: str, body: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Send one JSON request and decode the JSON answer; turn Matrix errors into exceptions."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with _OPENER.open(request, timeout=_HTTP_TIMEOUT_S) as response:
                answer: dict[str, Any] = json.loads(response.read())
                return answer
        except urllib.error.HTTPError as error:
            with error:
                raw = error.read()
            try:
                details = json.loads(raw)
            except ValueError:
                details = {}
            if not isinstance(details, dict):
                details = {}
            errcode = details.get("errcode")
            message = details.get("error") or raw.decode(errors="replace")
            raise LocalSynapseError(
                f"{method} {path} failed: HTTP {error.code} {errcode or ''} {message}".strip(),
                status=error.code,
                errcode=errcode if isinstance(errcode, str) else None,
            ) from error
