"""One typed `Settings` object, built once by the entry point and passed to `create_app(settings)`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEMO_SECRET = "lifechain-demo-secret-do-not-use-in-production"
SECRET_REFUSED = "refusing to start with the built-in demo secret outside demo mode"


class Settings(BaseSettings):
    """Everything the server and the command line need to know about their environment."""

    model_config = SettingsConfigDict(env_prefix="LIFECHAIN_", extra="ignore")

    data_dir: Path = Field(default=Path("./var"), description="Where cities, the SQLite database and uploads live.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; defaults to SQLite in the data directory."
    )
    routing_engine: Literal["scipy", "ch"] = Field(default="ch", description="Travel-time engine, see docs/decisions.")
    default_city: str = "helsinki"
    demo_mode: bool = Field(default=False, description="Allows demo users and the built-in demo secret.")
    secret_key: str = DEMO_SECRET
    # Each number has a range: one that parses but makes no sense (a negative token lifetime, a speed of 0) is
    # refused when the settings are built, not acted on.
    token_ttl_s: int = Field(default=12 * 3600, gt=0, description="Seconds a sign-in token is valid.")
    max_matrix_cells: int = Field(default=1_000_000, gt=0, description="Largest travel-time matrix one request gets.")
    snap_max_distance_m: float = Field(default=1000.0, gt=0, allow_inf_nan=False,
                                       description="How far a place may lie from the roads and still be routed.")
    offroad_speed_mps: float = Field(default=1.4, gt=0, allow_inf_nan=False,
                                     description="Speed over the stretch between a place and the road.")
    gps_stale_after_s: float = Field(default=120.0, gt=0, allow_inf_nan=False,
                                     description="Age after which a GPS fix is stale (a unit's station stands in).")
    volunteer_heartbeat_timeout_s: float = Field(default=300.0, gt=0, allow_inf_nan=False,
                                                 description="Silence after which a volunteer is not alerted.")
    vapid_private_key: str | None = Field(default=None, description="Web Push VAPID private key (PEM or base64url).")
    vapid_public_key: str | None = Field(default=None, description="Web Push VAPID public key for the browser.")
    vapid_subject: str = Field(default="mailto:ops@lifechain.invalid", description="Web Push contact (VAPID sub).")
    web_dist: Path | None = Field(default=None, description="Built browser bundle; defaults to the packaged one.")
    cors_origins: list[str] = []
    planning_runs_at_once: int = Field(
        default=1, ge=1, le=64,
        description="Planning runs one server process works on at the same time, each in a process of its own (one "
                    "core each); the rest wait in the queue. Keep a core for live dispatch.")
    planning_workers_per_run: int = Field(
        default=1, ge=1, le=64,
        description="Processes one planning run spreads its replications over (a core each).")

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if not self.demo_mode and self.secret_key == DEMO_SECRET:
            raise ValueError(f"{SECRET_REFUSED}: set LIFECHAIN_SECRET_KEY or run with LIFECHAIN_DEMO_MODE=1")
        return self

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL, SQLite in the data directory unless one was given."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'lifechain.db').resolve()}"

    @property
    def cities_dir(self) -> Path:
        """Folder of compiled cities, one sub-folder per city."""
        return self.data_dir / "cities"
