"""Typed configuration: a TOML file overridden by `HALTE_*` environment variables.

`extra="forbid"` everywhere, so a misspelt key is an error rather than a silently ignored
setting; secrets are `SecretStr`, so they never show up in a repr, a log or `check-config`.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from bot.clock import is_known_zone

Language = Literal["fr", "en"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
TrustPolicy = Literal["tofu", "all", "verified"]


def _check_user_id(value: str) -> str:
    if not (value.startswith("@") and ":" in value[1:] and value.index(":") > 1):
        raise ValueError(f"not a Matrix user id (expected @name:server): {value!r}")
    return value


class MatrixSettings(BaseModel):
    """How the bot reaches its homeserver."""

    model_config = ConfigDict(extra="forbid")

    homeserver: str = Field(
        description="Base URL of the homeserver, e.g. https://matrix.example.org"
    )
    user_id: str = Field(description="The bot's Matrix id, e.g. @halte:example.org")
    password: SecretStr | None = None
    access_token: SecretStr | None = None
    device_name: str = "Halte"
    # Invites are accepted only from these: full user ids (@alice:example.org) or whole
    # servers (example.org). Empty means: accept invites from nobody.
    invite_allowlist: list[str] = Field(default_factory=list)
    # Users whose events the bot ignores entirely (other bots, bridges).
    ignored_users: list[str] = Field(default_factory=list)
    # Which members' devices receive the keys of the bot's messages in encrypted rooms:
    # - "tofu" (trust on first use): the devices seen the first time a person is met are
    #   trusted; a device that appears later for that person is logged as a warning, by user
    #   id, and still gets the keys. Nobody is locked out when they change phones, at the
    #   price of trusting a device slipped into an account the homeserver controls; the
    #   warnings are the trace an operator can check.
    # - "all": every device gets the keys, nothing is marked trusted, no warning.
    # - "verified": only verified devices get the keys (after "tofu", the devices trusted on
    #   first use stay trusted, all others are refused); a member without one is logged and
    #   cannot read the bot in encrypted rooms.
    trust: TrustPolicy = "tofu"
    # Direct chats the bot opens (crisis resources, alerts, data exports, reminders) are
    # end-to-end encrypted: they carry the most sensitive things it sends. Turn it off only
    # where the homeserver forbids encrypted rooms or staff clients cannot decrypt (messages
    # there would be unreadable). Direct chats opened before keep what they were.
    encrypt_direct_rooms: bool = True

    @field_validator("homeserver")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("user_id")
    @classmethod
    def _check_bot_id(cls, value: str) -> str:
        return _check_user_id(value)

    @model_validator(mode="after")
    def _need_a_secret(self) -> MatrixSettings:
        if self.password is None and self.access_token is None:
            raise ValueError("set matrix.password or matrix.access_token")
        return self


class SafetySettings(BaseModel):
    """The crisis resources sent privately to a person whose message signals risk.

    Empty means the Québec defaults of the catalogues (1 866 APPELLE, 811 option 2, 9-8-8,
    911). An establishment may put its own (employee assistance programme, on-call team).
    """

    model_config = ConfigDict(extra="forbid")

    resources_fr: str | None = None
    resources_en: str | None = None
    # Where alerts go when the room is not a group: these people (besides config moderators).
    alert_contacts: list[str] = Field(default_factory=list)

    @field_validator("alert_contacts")
    @classmethod
    def _check_contacts(cls, value: list[str]) -> list[str]:
        return [_check_user_id(v) for v in value]

    def resources(self, language: str) -> str | None:
        return self.resources_fr if language == "fr" else self.resources_en


class PrivacySettings(BaseModel):
    """How long Halte keeps what it stores (Law 25: the least data, for the shortest time).

    A daily job deletes what is older; `halte purge --dry-run` shows what would go. Items still
    to be dealt with and current memberships are kept as long as they are current.
    """

    model_config = ConfigDict(extra="forbid")

    # Parked items dealt with (traité, fusionné, retiré), counted from their last change.
    dealt_items_days: int = Field(default=180, ge=1, le=3650)
    # Attendance and participation counts (from the check-in's date), safety signals (from
    # when they happened) and the record of posts sent (from when they were queued).
    counts_days: int = Field(default=365, ge=1, le=3650)
    # The audit trail of moderator actions.
    journal_days: int = Field(default=365, ge=1, le=3650)


class Settings(BaseSettings):
    """Everything the operator sets. See `config.example.toml` for each key's meaning."""

    model_config = SettingsConfigDict(
        env_prefix="HALTE_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    matrix: MatrixSettings | None = None
    data_dir: Path = Path("./data")
    language: Language = "fr"
    timezone: str = "America/Montreal"
    # Moderators in every group, besides the room's power level >= 50 users.
    moderators: list[str] = Field(default_factory=list)
    log_level: LogLevel = "INFO"
    # Groups' own check-in formats (TOML files), besides the three shipped ones.
    formats_dir: Path | None = None
    # A scheduled check-in missed while the bot was down still starts, with a note, if the bot
    # is back within this many minutes; later, it is skipped and moderators are told.
    checkin_grace_minutes: int = Field(default=10, ge=0, le=120)
    safety: SafetySettings = Field(default_factory=SafetySettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        if not is_known_zone(value):
            raise ValueError(f"unknown time zone: {value!r} (e.g. America/Montreal)")
        return value

    @field_validator("moderators")
    @classmethod
    def _check_moderators(cls, value: list[str]) -> list[str]:
        return [_check_user_id(v) for v in value]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's values arrive as init arguments (see `load_settings`); the environment
        # must win over the file, so it comes first.
        return (env_settings, init_settings)


class ConfigError(Exception):
    """The configuration cannot be used; `problems` lists each as (key path, reason)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{key}: {reason}" for key, reason in problems))
        self.problems = problems


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError([("(file)", f"{path} does not exist")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([("(file)", f"{path} is not valid TOML: {exc}")]) from None


def load_settings(path: Path | None, **overrides: Any) -> Settings:
    """Load the file (if any), then the environment, then validate everything at once.

    Raises `ConfigError` with every problem and its dotted key path, so the operator fixes
    the whole file in one go rather than one error per run.
    """
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    data: dict[str, Any] = read_toml(path) if path is not None else {}
    data.update(overrides)
    try:
        return Settings(**data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            key = ".".join(str(part) for part in error["loc"]) or "(root)"
            problems.append((key, error["msg"]))
        raise ConfigError(problems) from None
    except SettingsError as exc:
        # A list or table given in a HALTE_* variable that is not JSON. The value itself is
        # not repeated: it may be a secret.
        field = re.search(r'field "([^"]+)"', str(exc))
        key = field.group(1) if field else "(environment)"
        reason = "cannot read the HALTE_* environment value (write lists and tables as JSON)"
        raise ConfigError([(key, reason)]) from None
