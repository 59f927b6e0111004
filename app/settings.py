"""Process configuration, read once from environment variables (and an optional `.env`)."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from engine.config import CONFIGS

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEV_JWT_SECRET = "development-only-secret-change-me-please"


class VariantDefinition(BaseModel):
    """One arm of an experiment: customers assigned to it are served by engine config `config`."""

    name: str = Field(min_length=1, max_length=64)
    weight: float = Field(gt=0, allow_inf_nan=False, description="Relative share of customers.")
    config: str = Field(description="A key of engine.config.CONFIGS.")

    @field_validator("config")
    @classmethod
    def _known_config(cls, value: str) -> str:
        if value not in CONFIGS:
            raise ValueError(f"unknown engine config {value!r}; known: {sorted(CONFIGS)}")
        return value


class ExperimentDefinition(BaseModel):
    """An A/B experiment; the first variant is the baseline the others are compared with."""

    id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1)
    active: bool = False
    variants: list[VariantDefinition] = Field(min_length=2)

    @model_validator(mode="after")
    def _unique_variants(self) -> "ExperimentDefinition":
        names = [variant.name for variant in self.variants]
        if len(set(names)) != len(names):
            raise ValueError(f"experiment {self.id!r}: variant names must be unique")
        return self


class Settings(BaseSettings):
    """All settings; every field maps to the upper-case environment variable of its name."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./data/recommender.db"
    # --- read replicas (app/database.py) ---
    # Comma-separated PostgreSQL streaming replicas of DATABASE_URL; empty: every read on it.
    database_replica_url: str = ""
    database_replica_max_lag_seconds: float = Field(default=5.0, ge=0)
    database_replica_check_seconds: float = Field(default=1.0, gt=0)
    database_replica_connect_timeout_seconds: float = Field(default=2.0, gt=0)
    # --- end read replicas ---
    app_env: Literal["development", "production"] = "development"
    jwt_secret: str = DEV_JWT_SECRET
    jwt_issuer: str = "recommender"
    jwt_audience: str = "recommender-api"
    jwt_ttl_minutes: int = Field(default=60 * 24, ge=1)
    redis_url: str | None = None
    redis_namespace: str = "recommender"
    openai_api_key: str | None = None
    openai_base_url: str | None = None
    llm_model: str = "gpt-4o-mini"
    llm_timeout_seconds: float = Field(default=3.0, gt=0)
    llm_max_retries: int = Field(default=2, ge=0)
    llm_concurrency: int = Field(default=10, ge=1)
    llm_requests_per_minute: int = Field(default=50, ge=0)
    explanation_cache_ttl_seconds: int = Field(default=3600, ge=1)
    # --- model lifecycle (app/trainer.py trains; app/services/model_registry.py loads) ---
    model_ttl_seconds: int = Field(default=300, ge=1)
    model_retrain_events: int = Field(default=1000, ge=1)
    model_dir: Path = Path("data/models")
    model_store: Literal["local", "database"] = "local"
    model_keep_versions: int = Field(default=3, ge=1)
    model_poll_seconds: float = Field(default=2.0, gt=0)
    trainer: Literal["embedded", "external"] = "embedded"
    trainer_poll_seconds: float = Field(default=2.0, gt=0)
    trainer_lock_seconds: int = Field(default=60, ge=5)
    trainer_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    # --- end model lifecycle ---
    recommendation_cache_ttl_seconds: int = Field(default=300, ge=0)
    # distinct customers a product needs (recently) to trend; also gates the "most popular"
    # lists served before the first model (app/services/recommendations.py)
    trending_min_customers: int = Field(default=3, ge=1)
    product_row_ttl_seconds: float = Field(default=30.0, ge=0)
    # --- event ingestion (app/services/events.py) ---
    event_max_age_days: int = Field(default=30, ge=1)
    event_clock_skew_seconds: int = Field(default=300, ge=0)
    event_group_commit_ms: float = Field(default=2.0, ge=0)
    visitor_token_ttl_days: int = Field(default=30, ge=1)
    db_pool_size: int = Field(default=10, ge=1)
    db_connect_retries: int = Field(default=10, ge=0)
    dataset_dir: Path = PROJECT_ROOT.parent / "shared" / "datasets" / "online-retail"
    # --- security limits (see README "Security"; app/security.py, schema/extensions/) ---
    max_query_depth: int = Field(default=10, ge=1)
    max_aliases: int = Field(default=30, ge=0)
    max_tokens: int = Field(default=2000, ge=1)
    max_query_cost: int = Field(default=1000, ge=1)
    rate_limit_points_per_minute: int = Field(default=3000, ge=0)
    rate_limit_key_prefix: str = "recommender:ratelimit"
    max_body_bytes: int = Field(default=256_000, ge=1)  # a 500-event batch fits
    cors_origins: str = ""
    # GraphiQL at GET /graphql for browsers (and introspection, which it needs): None = on in
    # development, off in production; true or false overrides the environment's default.
    graphiql: bool | None = None
    # --- end security limits ---
    # The built web app (`make web-build`): the shop at /, GraphiQL's page and assets.
    web_dist: Path = PROJECT_ROOT / "web" / "dist"
    # --- persisted queries and response cache (app/persisted_queries.py, app/response_cache.py)
    persisted_queries_only: bool = False
    persisted_query_manifests: str = ""  # comma-separated paths; the web app's is added if built
    persisted_query_max_bytes: int = Field(default=20_000, ge=1)
    persisted_query_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=1)
    response_cache_ttl_seconds: int = Field(default=60, ge=0)  # 0: off
    otel_exporter_otlp_endpoint: str | None = None
    # --- end persisted queries and response cache ---
    # JSON list of ExperimentDefinition; at most one active (it decides who gets which model).
    experiments: list[ExperimentDefinition] = Field(default_factory=list)

    @field_validator("experiments")
    @classmethod
    def _valid_experiments(cls, value: list[ExperimentDefinition]) -> list[ExperimentDefinition]:
        ids = [experiment.id for experiment in value]
        if len(set(ids)) != len(ids):
            raise ValueError("experiment ids must be unique")
        active = [experiment.id for experiment in value if experiment.active]
        if len(active) > 1:
            raise ValueError(f"at most one experiment may be active, got {active}")
        return value

    @model_validator(mode="after")
    def _replicas_of_postgresql(self) -> "Settings":
        for url in self.replica_urls:
            if not url.startswith("postgresql+asyncpg://"):
                raise ValueError("DATABASE_REPLICA_URL: each URL must be postgresql+asyncpg://…")
        if self.replica_urls and not self.database_url.startswith("postgresql+asyncpg://"):
            raise ValueError("DATABASE_REPLICA_URL needs a PostgreSQL DATABASE_URL")
        return self

    @property
    def replica_urls(self) -> list[str]:
        """The read replicas of DATABASE_REPLICA_URL, in order of preference."""
        return [url.strip() for url in self.database_replica_url.split(",") if url.strip()]

    @property
    def active_experiment(self) -> ExperimentDefinition | None:
        return next((experiment for experiment in self.experiments if experiment.active), None)

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    @property
    def graphiql_enabled(self) -> bool:
        """GraphiQL is served (and introspection allowed): GRAPHIQL, else outside production."""
        return not self.is_production if self.graphiql is None else self.graphiql


@lru_cache
def get_settings() -> Settings:
    return Settings()
