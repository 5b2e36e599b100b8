"""Configuration: the example file loads, the environment wins, all problems reported at once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config.example.toml"

MINIMAL = """\
language = "fr"
timezone = "America/Montreal"

[matrix]
homeserver = "https://matrix.example.org/"
user_id = "@halte:example.org"
password = "file-password-4f1c"
"""


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The operator's shell must not leak into these tests."""
    for name in list(os.environ):
        if name.upper().startswith("HALTE_"):
            monkeypatch.delenv(name)


def write(tmp_path: Path, content: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(content, encoding="utf-8")
    return path


def problems(path: Path | None) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    return dict(caught.value.problems)


def test_the_shipped_example_config_loads() -> None:
    settings = load_settings(EXAMPLE)
    assert settings.matrix is not None
    assert settings.language in {"fr", "en"}
    assert settings.zone.key == settings.timezone


def test_a_minimal_file_loads_with_defaults(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, MINIMAL))
    assert settings.language == "fr"
    assert settings.log_level == "INFO"
    assert settings.moderators == []
    assert settings.matrix is not None
    assert settings.matrix.homeserver == "https://matrix.example.org"
    assert settings.matrix.password is not None
    assert settings.matrix.password.get_secret_value() == "file-password-4f1c"


def test_environment_wins_over_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HALTE_LANGUAGE", "en")
    monkeypatch.setenv("HALTE_MATRIX__PASSWORD", "env-password-9d2e")
    settings = load_settings(write(tmp_path, MINIMAL))
    assert settings.language == "en"
    assert settings.matrix is not None
    assert settings.matrix.password is not None
    assert settings.matrix.password.get_secret_value() == "env-password-9d2e"
    # The rest of the [matrix] table still comes from the file.
    assert settings.matrix.user_id == "@halte:example.org"
    assert settings.matrix.homeserver == "https://matrix.example.org"


def test_wrong_type_and_missing_key_are_reported_together(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
log_level = 10
moderators = "@anim:example.org"

[matrix]
homeserver = "https://matrix.example.org"
password = "x"
""",
    )
    found = problems(path)
    assert set(found) == {"log_level", "moderators", "matrix.user_id"}
    assert "required" in found["matrix.user_id"].lower()


def test_unknown_keys_are_refused_with_their_path(tmp_path: Path) -> None:
    path = write(
        tmp_path, MINIMAL.replace("[matrix]", 'langage = "en"\n\n[matrix]\nhomeservr = "x"')
    )
    found = problems(path)
    assert set(found) == {"langage", "matrix.homeservr"}


def test_a_bad_time_zone_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("America/Montreal", "Mars/Base"))
    found = problems(path)
    assert set(found) == {"timezone"}
    assert "Mars/Base" in found["timezone"]


def test_a_bad_moderator_id_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, 'moderators = ["anim"]\n' + MINIMAL)
    assert set(problems(path)) == {"moderators"}


def test_matrix_needs_a_password_or_a_token(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace('password = "file-password-4f1c"\n', ""))
    found = problems(path)
    assert set(found) == {"matrix"}
    assert "matrix.password" in found["matrix"]


def test_a_bad_environment_value_is_reported_with_its_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HALTE_LANGUAGE", "de")
    assert set(problems(None)) == {"language"}


def test_an_unparsable_environment_list_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # Lists come from the environment as JSON; a bare id used to escape as a SettingsError.
    monkeypatch.setenv("HALTE_MODERATORS", "@anim:example.org")
    assert set(problems(None)) == {"moderators"}


def test_missing_or_broken_file_is_a_config_error(tmp_path: Path) -> None:
    assert set(problems(tmp_path / "absent.toml")) == {"(file)"}
    assert set(problems(write(tmp_path, "language = "))) == {"(file)"}


def test_secrets_never_show_in_repr_str_or_dump(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HALTE_MATRIX__ACCESS_TOKEN", "syt_token-secret-77aa")
    settings = load_settings(write(tmp_path, MINIMAL))
    assert settings.matrix is not None
    for shown in (
        repr(settings),
        str(settings),
        repr(settings.matrix),
        str(settings.model_dump(mode="json")),
        settings.model_dump_json(),
    ):
        assert "file-password-4f1c" not in shown
        assert "syt_token-secret-77aa" not in shown


def test_settings_without_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HALTE_LOG_LEVEL", "DEBUG")
    settings = load_settings(None)
    assert isinstance(settings, Settings)
    assert settings.matrix is None
    assert settings.log_level == "DEBUG"
