"""Settings: ``LIVEGATE_*`` environment variables over an optional TOML file over defaults.

The defaults are the embedded ones — SQLite and media in the data dir, an in-process
broker, a console SMS provider — so ``livegate serve`` works on a fresh machine.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

_SECRET_FIELDS = {"secret_key", "database_url", "broker_url", "sms_access_key_secret", "storage_url"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LIVEGATE_", extra="forbid", validate_default=True)

    data_dir: Path = Field(default=Path(".data"), description="Where SQLite, media and keys live.")
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    rtmp_host: str = "127.0.0.1"
    rtmp_port: int = Field(default=1935, ge=0, le=65535)
    public_url: str = Field(default="", description="Base URL viewers use; derived from host/port if empty.")
    public_rtmp_url: str = Field(default="", description="RTMP base shown to publishers; derived if empty.")
    database_url: str = Field(default="", description="SQLAlchemy URL; SQLite in the data dir if empty.")
    broker_url: str = Field(default="memory://", description="memory:// or redis://host:port/db")
    storage_url: str = Field(default="", description="Object storage: empty for the data dir, or "
                             "s3://bucket/prefix?endpoint=URL for S3-compatible storage.")
    redis_namespace: str = Field(default="livegate:", description="Prefix of every Redis key and channel.")
    secret_key: SecretStr = Field(default=SecretStr(""), description="Signs sessions; generated if empty.")
    policy_file: Path | None = None
    node_name: str = Field(default_factory=lambda: f"node-{secrets.token_hex(3)}")
    log_json: bool = False
    log_level: str = "INFO"
    secure_cookies: Literal["auto", "always", "never"] = "auto"
    session_hours: int = Field(default=12, ge=1, le=24 * 30)
    login_max_failures: int = Field(default=5, ge=1)
    login_lockout_minutes: int = Field(default=15, ge=1)
    sms_provider: Literal["console", "aliyun"] = "console"
    sms_access_key_id: str = ""
    sms_access_key_secret: SecretStr = Field(default=SecretStr(""))
    sms_sign_name: str = ""
    sms_template_code: str = ""
    sms_endpoint: str = "https://dysmsapi.aliyuncs.com/"
    control_poll_seconds: float = Field(default=0.5, gt=0, le=10)

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, v: Path) -> Path:
        return v.expanduser().resolve()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("LIVEGATE_CONFIG")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)

    # Derived values -------------------------------------------------------------------
    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'livegate.db'}"

    @property
    def effective_public_url(self) -> str:
        host = "127.0.0.1" if self.http_host in ("0.0.0.0", "::") else self.http_host  # noqa: S104
        return (self.public_url or f"http://{host}:{self.http_port}").rstrip("/")

    @property
    def effective_rtmp_url(self) -> str:
        host = "127.0.0.1" if self.rtmp_host in ("0.0.0.0", "::") else self.rtmp_host  # noqa: S104
        return (self.public_rtmp_url or f"rtmp://{host}:{self.rtmp_port}/live").rstrip("/")

    def ensure_data_dir(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def resolved_secret_key(self) -> bytes:
        """The session-signing secret: configured, or generated once into the data dir (0600)."""
        value = self.secret_key.get_secret_value()
        if value:
            return value.encode()
        self.ensure_data_dir()
        path = self.data_dir / "secret.key"
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
        return path.read_text().strip().encode()

    def redacted(self) -> dict[str, Any]:
        """Effective settings with secrets hidden, for ``livegate config show``."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = "**********" if value.get_secret_value() else ""
            elif name in _SECRET_FIELDS and value:
                value = _redact_url(str(value))
            elif isinstance(value, Path):
                value = str(value)
            out[name] = value
        out["effective_database_url"] = _redact_url(self.effective_database_url)
        out["effective_public_url"] = self.effective_public_url
        out["effective_rtmp_url"] = self.effective_rtmp_url
        return out


def _redact_url(url: str) -> str:
    """Hide the password part of a URL like ``postgresql://user:pw@host/db``."""
    if "://" in url and "@" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        if ":" in creds:
            user = creds.split(":", 1)[0]
            return f"{scheme}://{user}:***@{host}"
    return url


def load_settings(**overrides: Any) -> Settings:
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
