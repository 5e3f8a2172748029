"""Settings for one hub process, every one overridable by an ``HUB_`` environment variable.

The defaults make ``hub demo`` work with nothing configured: an SQLite file and keys in
``./hub-data``. Production refuses to start on those defaults (see ``check_for_production``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """The hub's configuration; read once per process."""

    model_config = SettingsConfigDict(env_prefix="HUB_", env_file=None, extra="ignore")

    environment: Literal["development", "production"] = "development"
    data_dir: Path = Field(default=Path("hub-data"))
    database_url: str | None = None
    key_file: Path | None = None
    keys_json: str | None = Field(
        default=None, description="The keyring as JSON, instead of a key file (for containers)."
    )
    public_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8000
    access_token_ttl_seconds: int = Field(default=300, ge=30, le=3600)
    assertion_max_lifetime_seconds: int = Field(default=300, ge=30, le=300)
    clock_leeway_seconds: int = Field(default=30, ge=0, le=120)
    policy_dir: Path | None = None
    max_request_bytes: int = Field(default=1_000_000, ge=1024)
    log_level: str = "INFO"
    notify_in_process: bool = False
    notify_poll_seconds: float = Field(default=2.0, gt=0)
    notify_backoff_seconds: float = Field(default=5.0, gt=0)
    notify_max_attempts: int = Field(default=10, ge=1)
    notify_timeout_seconds: float = Field(default=10.0, gt=0)
    rate_limit: str = Field(
        default="100/second;3000/minute",
        description="Per client and per worker, in the limits library's notation; empty: off.",
    )
    linkage_link_weight: float = Field(
        default=-4.0, description="Match weight at or above which a record is linked unasked."
    )
    linkage_review_weight: float = Field(
        default=-14.0, description="Match weight at or above which a pair goes to review."
    )

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def sqlalchemy_url(self) -> str:
        """The database to use: ``HUB_DATABASE_URL``, or an SQLite file in the data directory."""
        if self.database_url:
            url = self.database_url
            # psycopg 3 is the one PostgreSQL driver installed; accept the plain scheme too.
            if url.startswith("postgresql://") or url.startswith("postgres://"):
                url = "postgresql+psycopg://" + url.split("://", 1)[1]
            return url
        return f"sqlite:///{(self.data_dir / 'hub.db').resolve()}"

    @property
    def resolved_key_file(self) -> Path:
        return self.key_file if self.key_file is not None else self.data_dir / "keys.json"

    @property
    def resolved_policy_dir(self) -> Path:
        if self.policy_dir is not None:
            return self.policy_dir
        import policies

        return Path(policies.__file__).parent

    @property
    def token_endpoint(self) -> str:
        return f"{self.public_url}/oauth/token"

    def check_for_production(self) -> None:
        """Refuse the demo's conveniences where real children's data would live."""
        if self.environment != "production":
            return
        if not self.database_url:
            raise ValueError("HUB_DATABASE_URL must name the production database.")
        if self.public_url.startswith("http://"):
            raise ValueError("HUB_PUBLIC_URL must be an https:// address in production.")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
