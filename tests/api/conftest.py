"""A served store for the API tests: graded, with proposals and one key per role; a live server on loopback."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from api.app import create_app
from api.keys import ROLES, create_key
from api.pipeline import Components
from insights.credit.scorecard import load_scorecard
from insights.credit.service import grade_store
from insights.demand.config import load_proposal_config
from insights.demand.service import build_proposals
from nlp.stopwords import load_stopwords
from radar.settings import Settings
from search.store import Store


@dataclass
class Served:
    db: Path
    keys: dict[str, str]
    settings: Settings


@pytest.fixture(scope="session")
def served_store(tmp_path_factory: pytest.TempPathFactory, demo_store_path: Path, settings: Settings, components: Components) -> Served:
    """The demo store with credit grades, demand proposals and a key per role (session-wide: tests copy it to write)."""
    db = tmp_path_factory.mktemp("served") / "radar.db"
    shutil.copy(demo_store_path, db)
    with Store.open(db) as store:
        grade_store(store, load_scorecard())
        build_proposals(
            store,
            tokenizer=components.tokenizer,
            taxonomy=components.taxonomy,
            config=load_proposal_config(),
            stopwords=load_stopwords(settings.shared_data / "stopwords"),
            idf=components.backend(store, semantic=False).idf,
        )
        keys = {role: create_key(store, f"{role}-1", role)["key"] for role in ROLES}
    return Served(db, keys, Settings(db=db, semantic=False, zero_shot=False))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def live_server(served_store: Served, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Served]]:
    """The app on 127.0.0.1 in a thread, over a private copy of the served store."""
    db = tmp_path_factory.mktemp("live") / "radar.db"
    shutil.copy(served_store.db, db)
    served = Served(db, served_store.keys, served_store.settings.model_copy(update={"db": db}))
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(served.settings, rate=1000, burst=1000), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the API server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", served
    server.should_exit = True
    thread.join(timeout=10)
