"""One store contract, three stores: the SQLite ``Store``, ``SQLStore`` on SQLite, ``SQLStore`` on PostgreSQL.

PostgreSQL is ``PG_URL`` or a throwaway cluster made by the session fixture (skipped, saying
why, when neither is possible).
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ingestion.convert import ConvertOptions
from ingestion.pipeline import ingest_path
from radar.errors import SearchError
from radar.records import Evidence, Label, Record, Source
from radar.settings import Settings
from search.sql_store import SQLStore
from search.store import Store
from search.stores import StoreProtocol, describe, is_sqlite, mask_url, open_store, require_sqlite

OPTS = ConvertOptions(secret="s")
HEADER = ["工单编号", "受理时间", "投诉号码", "投诉内容", "处理结果", "满意度"]
KINDS = ("sqlite", "sqlalchemy-sqlite", "postgresql")
SQLALCHEMY_KINDS = ("sqlalchemy-sqlite", "postgresql")


def _open(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> StoreProtocol:
    if kind == "sqlite":
        return Store.open(tmp_path / "r.db")
    if kind == "sqlalchemy-sqlite":
        return SQLStore.open(f"sqlite:///{tmp_path / 'r.db'}")
    return SQLStore.open(request.getfixturevalue("pg_database"), path=tmp_path / "pg")


@pytest.fixture(params=KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreProtocol]:
    opened = _open(request.param, request, tmp_path)
    yield opened
    opened.close()


@pytest.fixture(params=SQLALCHEMY_KINDS)
def sql_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SQLStore]:
    opened = _open(request.param, request, tmp_path)
    assert isinstance(opened, SQLStore)
    yield opened
    opened.close()


def _write(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        w.writerows(rows)


def _history(store: StoreProtocol, record_id: str) -> list[tuple[Any, ...]]:
    if isinstance(store, Store):
        sql = "SELECT field, old_value, new_value FROM record_history WHERE record_id = ?"
        return sorted(tuple(r) for r in store.conn.execute(sql, (record_id,)))
    assert isinstance(store, SQLStore)
    return sorted((r["field"], r["old_value"], r["new_value"]) for r in store.history(record_id))


def _label_all(store: StoreProtocol, version: str = "v1") -> int:
    done = 0
    for batch in store.iter_unlabelled(label_version=version):
        with store.transaction():
            for rowid, _ in batch:
                store.write_labels(rowid, {"intent": [Label("投诉", 0.9, "rule", [])]}, [], "t1", version)
                done += 1
    return done


def _record(rid: str, text: str, **kw: Any) -> Record:
    return Record(id=f"forum:{rid}", source=Source.FORUM, source_id=rid, text=text, **kw)


# -- ingestion --------------------------------------------------------------------------------------


def test_same_batch_twice_adds_nothing_and_leaves_rows_alone(store: StoreProtocol, sample_dir: Path) -> None:
    first = ingest_path("tickets", sample_dir / "tickets", store, OPTS)
    assert first.read == first.ingested + first.updated + first.duplicates + first.quarantined
    assert first.ingested > 0 and first.quarantined >= 1
    count, bodies = store.count(), store.lookup([f"tickets:GD{i:08d}" for i in range(1, 200)])
    assert _label_all(store) == count
    second = ingest_path("tickets", sample_dir / "tickets", store, OPTS)
    assert (second.ingested, second.updated, second.quarantined) == (0, 0, first.quarantined)
    assert store.count() == count and store.count("quarantine") == first.quarantined  # the same bad rows are not kept twice
    assert store.lookup(list(bodies)) == bodies
    assert list(store.iter_unlabelled(label_version="v1")) == []  # nothing to re-label: unchanged rows were not touched


def test_changed_text_is_relabelled_and_status_changes_kept(store: StoreProtocol, tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    _write(path, [["GD1", "2026-10-01", "13912345678", "客户反映信号差", "处理中", ""], ["GD2", "2026-10-01", "", "宽带断网", "", ""]])
    ingest_path("tickets", path, store, OPTS)
    assert _label_all(store) == 2
    _write(
        path,
        [["GD1", "2026-10-01", "13912345678", "客户反映信号差，要求退费", "已解决", "满意"], ["GD2", "2026-10-01", "", "宽带断网", "", ""]],
    )
    report = ingest_path("tickets", path, store, OPTS)
    assert (report.updated, report.duplicates) == (1, 1) and store.count() == 2
    pending = [record.id for batch in store.iter_unlabelled(label_version="v1") for _, record in batch]
    assert pending == ["tickets:GD1"]
    rec = store.get("tickets:GD1")
    assert rec is not None and rec.ticket is not None and rec.ticket.result == "已解决" and "退费" in rec.text
    assert _history(store, "tickets:GD1") == [("result", "处理中", "已解决"), ("satisfaction", None, "满意")]


def test_repeats_are_linked_not_dropped(store: StoreProtocol, tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    rows = [
        ["GD1", "2026-10-01", "13912345678", "客户反映本月扣了56元流量费，要求退还", "", ""],
        ["GD2", "2026-10-02", "139 1234 5678", "客户反映本月扣了56元流量费， 要求退还", "", ""],
        ["GD3", "2026-10-02", "13800000000", "客户反映本月扣了30元流量费，要求退还", "", ""],
        ["GD4", "2026-10-03", "13800000000", "客户反映家里宽带晚上经常断网，要求上门维修", "", ""],
    ]
    _write(path, rows)
    report = ingest_path("tickets", path, store, OPTS)
    assert (report.read, report.ingested, report.duplicates, report.near_duplicates) == (4, 3, 1, 1)
    linked = {f"tickets:GD{i}": getattr(store.get(f"tickets:GD{i}"), "duplicate_of", "missing") for i in range(1, 5)}
    assert linked == {"tickets:GD1": None, "tickets:GD2": "tickets:GD1", "tickets:GD3": "tickets:GD1", "tickets:GD4": None}


def test_quarantine_keeps_the_raw_row_and_its_reason(store: StoreProtocol) -> None:
    raw = '{"id": 7, "text": "网速慢😡'
    assert store.quarantine("forum", "posts.jsonl", "line 7", raw, "E105", "Row is not valid JSON: 未结束的字符串")
    assert not store.quarantine("forum", "posts.jsonl", "line 7", raw, "E105", "again")  # the same row, kept once
    kept = store.quarantined("forum")
    assert len(kept) == 1 and store.count("quarantine") == 1
    assert (kept[0]["raw"], kept[0]["code"], kept[0]["message"], kept[0]["location"]) == (
        raw,
        "E105",
        "Row is not valid JSON: 未结束的字符串",
        "line 7",
    )
    assert store.quarantined("calls") == []


def test_chinese_and_emoji_round_trip(store: StoreProtocol) -> None:
    text = "5G套餐😡太贵了👍，𠮷野家旁边营业厅态度差！\n第二行\t制表"
    with store.transaction():
        assert store.upsert(_record("p1", text, title="标题🙂"), "k1") == "ingested"
        assert store.upsert(_record("p1", text, title="标题🙂"), "k1") == "duplicate"
    got = store.get("forum:p1")
    assert got is not None and (got.text, got.title) == (text, "标题🙂")
    assert got.content_hash == _record("p1", text, title="标题🙂").content_hash
    rowid = store.rowid("forum:p1")
    assert rowid is not None and store.lookup(["forum:p1"])["forum:p1"][0] == rowid
    assert [r.id for r in store.get_by_rowids([rowid, 10**9])] == ["forum:p1"]


# -- labels ---------------------------------------------------------------------------------------


def test_labels_round_trip(store: StoreProtocol) -> None:
    with store.transaction():
        store.upsert(_record("p1", "流量扣费太多，要投诉"), "k1")
    rowid = store.rowid("forum:p1")
    assert rowid is not None
    labels = {
        "intent": [Label("投诉", 0.92, "rule", [Evidence("投诉", 7, 9)])],
        "complaint_type": [Label("计费争议", 0.6, "zero_shot", []), Label("流量", 0.8, "model:x", [Evidence("流量", 0, 2)])],
    }
    with store.transaction():
        store.write_labels(rowid, labels, ["complaint_type", "complaint_type"], "tax-1", "lab-1")
        store.write_entities(rowid, [("AMOUNT", "56元", 3, 6, "56"), ("PRODUCT", "流量", 0, 2, "流量")])
        store.write_turn_sentiment(rowid, [(0, "customer", "negative", -0.8, 0.9, True)])
    got = store.get("forum:p1")
    assert got is not None and got.taxonomy_version == "tax-1" and got.needs_review == ["complaint_type"]
    assert got.labels["intent"] == labels["intent"]
    assert [lab.label for lab in got.labels["complaint_type"]] == ["流量", "计费争议"]  # best score first
    assert got.labels["complaint_type"][0].evidence == [Evidence("流量", 0, 2)]
    assert store.label_counts() == {"complaint_type": {"流量": 1, "计费争议": 1}, "intent": {"投诉": 1}}
    with store.transaction():  # replacing, not adding
        store.write_labels(rowid, {"intent": [Label("咨询", 0.7, "rule", [])]}, [], "tax-2", "lab-2")
    got = store.get("forum:p1")
    assert got is not None and got.labels == {"intent": [Label("咨询", 0.7, "rule", [])]} and got.needs_review == []
    assert store.count("labels") == 1 and store.count("needs_review") == 0


def test_iter_unlabelled_modes_and_batches(store: StoreProtocol) -> None:
    with store.transaction():
        for i in range(7):
            store.upsert(_record(f"p{i}", f"第{i}条反馈：信号不好"), f"k{i}")
    batches = list(store.iter_unlabelled(batch=3))
    assert [len(b) for b in batches] == [3, 3, 1]
    rowids = [rowid for b in batches for rowid, _ in b]
    assert rowids == sorted(rowids)
    with store.transaction():
        for rowid in rowids[:4]:
            store.write_labels(rowid, {}, [], "t", "old")
        for rowid in rowids[4:5]:
            store.write_labels(rowid, {}, [], "t", "new")
    assert sum(len(b) for b in store.iter_unlabelled()) == 2
    assert sum(len(b) for b in store.iter_unlabelled(mode="backfill", label_version="new")) == 6
    assert sum(len(b) for b in store.iter_unlabelled(mode="all")) == 7


# -- cursors, transactions, jobs, embeddings ------------------------------------------------------


def test_a_failed_transaction_keeps_nothing(store: StoreProtocol) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.upsert(_record("p1", "断网"), "k1")
        store.set_cursor("forum-api", "2026-10-01")
        raise RuntimeError("crash mid-batch")
    assert store.count() == 0 and store.get_cursor("forum-api") is None
    epoch = store.search_epoch()
    with store.transaction():
        store.upsert(_record("p1", "断网"), "k1")
        store.set_cursor("forum-api", "2026-10-02")
    assert store.count() == 1 and store.get_cursor("forum-api") == "2026-10-02"
    assert int(store.search_epoch()) == int(epoch) + 1


def test_jobs_progress_and_cancel(store: StoreProtocol) -> None:
    job = store.start_job("label", {"taxonomy": "t1"}, total=10, started_by="张三")
    store.job_progress(job, 4)
    assert not store.cancel_requested(job)
    assert store.request_cancel(job) and store.cancel_requested(job)
    store.finish_job(job, {"records": 4}, "cancelled", ["停止"])
    doc = store.job(job)
    assert doc is not None
    assert (doc["status"], doc["done"], doc["total"], doc["counts"], doc["errors"], doc["started_by"]) == (
        "cancelled",
        4,
        10,
        {"records": 4},
        ["停止"],
        "张三",
    )
    assert not store.request_cancel(job)  # no longer running


def test_embedding_cache_by_content_hash(store: StoreProtocol) -> None:
    from nlp.embedders.base import text_key

    a, b = text_key("信号差", "passage"), text_key("网速慢😡", "passage")
    store.put_vectors("m", {a: np.array([0.5, -1.0, 2.0]), b: np.arange(3, dtype=np.float64)})
    got = store.get_vectors("m", [a, b, text_key("没有", "passage")])
    assert set(got) == {a, b} and got[a].dtype == np.float32
    np.testing.assert_array_equal(got[a], np.array([0.5, -1.0, 2.0], dtype=np.float32))
    store.put_vectors("m", {a: np.ones(3)})  # same text, new vector: replaced
    np.testing.assert_array_equal(store.get_vectors("m", [a])[a], np.ones(3, dtype=np.float32))
    assert store.get_vectors("other-model", [a]) == {}


def test_model_registry(store: StoreProtocol) -> None:
    first = store.register_model("/models/a", "intent", {"f1": 0.9})  # type: ignore[attr-defined]
    second = store.register_model("/models/b", "intent", {"f1": 0.8})  # type: ignore[attr-defined]
    assert store.register_model("/models/a", "intent", {"f1": 0.95}) == first  # type: ignore[attr-defined]
    store.set_model_flag(second, "attached")  # type: ignore[attr-defined]
    store.set_model_flag(first, "attached")  # type: ignore[attr-defined]
    assert [m["path"] for m in store.attached_models()] == ["/models/a"]


# -- opening, secrets, SQLite-only features -----------------------------------------------------------


def test_open_store_chooses_by_path_or_url(tmp_path: Path) -> None:
    with open_store(tmp_path / "a.db") as a, open_store(f"sqlite:///{tmp_path / 'b.db'}") as b:
        assert is_sqlite(a) and is_sqlite(b) and Path(b.path).name == "b.db"
    for url in ("mysql://u@h/db", "postgresql+asyncpg://u:pw@h/db", "sqlite://"):
        with pytest.raises(SearchError) as err:
            open_store(url)
        assert err.value.code == "E308" and "pw" not in str(err.value)


def test_the_password_never_shows(pg_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    secret_url = pg_url.replace("postgres@", "postgres:s3cret-pw@", 1)  # the test cluster trusts: any password works
    assert secret_url != pg_url
    with caplog.at_level(logging.DEBUG), SQLStore.open(secret_url, path=tmp_path / "pg") as store:
        assert store.count() >= 0
        shown = [repr(store), str(store.location), describe(store), repr(store.engine), mask_url(secret_url), caplog.text]
    assert "opened store" in caplog.text
    assert not [s for s in shown if "s3cret-pw" in s]
    settings = Settings(store_url=secret_url)
    assert "s3cret-pw" not in repr(settings) and "s3cret-pw" not in settings.model_dump_json()


def test_an_unreachable_server_is_a_coded_error_without_the_password() -> None:
    with pytest.raises(SearchError) as err:
        SQLStore.open("postgresql://radar:s3cret-pw@127.0.0.1:1/radar?connect_timeout=2")
    assert err.value.code == "E301" and "s3cret-pw" not in str(err.value) and "radar:***@127.0.0.1:1" in str(err.value)


def test_sqlite_only_features_say_so(sql_store: SQLStore, components: Any, settings: Settings) -> None:
    from insights.credit.scorecard import load_scorecard
    from insights.credit.service import grade_store, triage_queue
    from insights.demand.service import list_proposals
    from insights.summary import summarize
    from search.backends.sqlite import SQLiteSearchBackend

    attempts = {
        "embedded backend": lambda: SQLiteSearchBackend(sql_store, components.tokenizer),  # type: ignore[arg-type]
        "configured backend": lambda: components.backend(sql_store),
        "credit grading": lambda: grade_store(sql_store, load_scorecard()),  # type: ignore[arg-type]
        "triage": lambda: triage_queue(sql_store, load_scorecard()),  # type: ignore[arg-type]
        "proposals": lambda: list_proposals(sql_store),  # type: ignore[arg-type]
        "summary": lambda: summarize(sql_store),  # type: ignore[arg-type]
        "raw connection": lambda: sql_store.conn.execute("SELECT 1"),
        "require": lambda: require_sqlite(sql_store, "Some feature"),
    }
    for name, attempt in attempts.items():
        with pytest.raises(SearchError) as err:
            attempt()
        assert err.value.code == "E307", name
        assert "SQLite store only" in err.value.message and "RADAR_SEARCH_BACKEND=elasticsearch" in err.value.hint, name
        assert sql_store.location in err.value.message, name
    with pytest.raises(SearchError, match="test_sql_store"):  # the raw connection names the module that asked
        sql_store.conn.execute("SELECT 1")


def test_the_api_refuses_a_store_url() -> None:
    from api.app import create_app

    with pytest.raises(SearchError) as err:
        create_app(Settings(store_url="postgresql+psycopg://radar:s3cret-pw@db.example/radar"))
    assert err.value.code == "E307" and "HTTP API" in err.value.message and "s3cret-pw" not in str(err.value)


# -- the Elasticsearch backend's bookkeeping over the SQLAlchemy store ---------------------------------


class _Indices:
    def put_index_template(self, **_: Any) -> None: ...
    def exists_alias(self, **_: Any) -> bool:
        return True


class _FakeES:
    """Enough of a client for ``ensure`` and ``index``; bulk goes through the patched helper."""

    def __init__(self) -> None:
        self.indices = _Indices()
        self.docs: dict[str, dict[str, Any]] = {}


def test_elasticsearch_indexing_state_lives_in_the_sql_store(sql_store: SQLStore, components: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import elasticsearch.helpers

    from search.backends.elasticsearch import ElasticsearchBackend

    client = _FakeES()

    def bulk(_client: Any, actions: Any, **_: Any) -> Iterator[tuple[bool, dict[str, Any]]]:
        for action in actions:
            client.docs[action["_id"]] = action["_source"]
            yield True, {"index": {"_id": action["_id"]}}

    monkeypatch.setattr(elasticsearch.helpers, "streaming_bulk", bulk)
    with sql_store.transaction():
        sql_store.upsert(_record("p1", "流量扣费太多😡"), "k1")
        sql_store.upsert(_record("p2", "流量扣费太多😡"), "k1")  # an exact repeat of p1
        sql_store.upsert(_record("p3", "宽带晚上断网"), "k3")
    backend = ElasticsearchBackend(sql_store, components.tokenizer, client)
    backend.ensure()
    pending = backend.pending()
    assert len(pending) == 3
    with sql_store.transaction():
        assert backend.index(pending) == 3
    assert backend.pending() == []
    assert client.docs["forum:p2"]["group"] == "forum:p1" and client.docs["forum:p1"]["credit_grade"] is None
    assert "扣费" in client.docs["forum:p1"]["tokens"].split()
    with sql_store.transaction():
        sql_store.upsert(_record("p3", "宽带晚上断网，已经三天了"), "k3b")
    assert backend.pending() == [sql_store.rowid("forum:p3")]  # changed text: indexed again
