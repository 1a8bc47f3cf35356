"""The forum API reader against a local stand-in server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from ingestion.convert import ConvertOptions
from ingestion.sources import ingest_forum_api
from radar.errors import IngestionError
from search.store import Store

OPTS = ConvertOptions(secret="s")


def _posts(n: int) -> list[dict[str, object]]:
    return [
        {
            "post_id": f"P{i}",
            "thread_id": "T1",
            "board": "你问我答",
            "title": f"帖子{i}",
            "author_id": f"u{i}",
            "content_html": f"第{i}个帖子：流量扣费问题<br/>编号{i}",
            "created_at": f"2026-10-{1 + i // 10:02d}T{i % 10:02d}:00:00+08:00",
            "floor": 1,
            "likes": i,
            "reply_to": None,
        }
        for i in range(n)
    ]


class ForumStandIn:
    """Serves ``/posts`` with since/page/page_size; can fail some requests on purpose."""

    def __init__(self, posts: list[dict[str, object]]) -> None:
        self.posts = posts
        self.fail_next = 0  # answer the next N requests with HTTP 500
        self.fail_pages: set[int] = set()  # these pages always fail
        self.requests: list[dict[str, list[str]]] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                query = parse_qs(urlparse(self.path).query)
                stand_in.requests.append(query)
                page, size = int(query["page"][0]), int(query["page_size"][0])
                if stand_in.fail_next > 0 or page in stand_in.fail_pages:
                    stand_in.fail_next = max(0, stand_in.fail_next - 1)
                    self.send_response(500)
                    self.end_headers()
                    return
                since = query.get("since", [""])[0]
                items = [p for p in stand_in.posts if not since or _local(str(p["created_at"])) >= since]
                chunk = items[(page - 1) * size : page * size]
                body = json.dumps({"posts": chunk, "next_page": page + 1 if page * size < len(items) else None}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _local(iso: str) -> str:
    return iso[:19]  # the stand-in's posts are all +08:00; compare as local time like the cursor


@pytest.fixture
def server() -> Iterator[ForumStandIn]:
    s = ForumStandIn(_posts(45))
    yield s
    s.close()


def test_pages_through_everything(server: ForumStandIn, tmp_path: Path) -> None:
    with Store.open(tmp_path / "r.db") as store:
        report = ingest_forum_api(server.url, store, OPTS, page_size=10, sleep=lambda s: None)
        assert (report.read, report.ingested) == (45, 45)
        assert [int(q["page"][0]) for q in server.requests] == [1, 2, 3, 4, 5]
        assert store.get_cursor(f"forum-api:{server.url}") == "2026-10-05T04:00:00"


def test_since_cursor_makes_the_next_run_incremental(server: ForumStandIn, tmp_path: Path) -> None:
    with Store.open(tmp_path / "r.db") as store:
        ingest_forum_api(server.url, store, OPTS, page_size=10, sleep=lambda s: None)
        server.posts.append({**_posts(46)[45], "created_at": "2026-10-09T10:00:00+08:00"})
        server.requests.clear()
        report = ingest_forum_api(server.url, store, OPTS, page_size=10, sleep=lambda s: None)
        assert server.requests[0]["since"] == ["2026-10-05T04:00:00"]
        assert (report.ingested, store.count()) == (1, 46)  # the boundary post is re-read, unchanged


def test_retries_with_backoff_then_succeeds(server: ForumStandIn, tmp_path: Path) -> None:
    server.fail_next = 2
    delays: list[float] = []
    with Store.open(tmp_path / "r.db") as store:
        report = ingest_forum_api(server.url, store, OPTS, page_size=50, sleep=delays.append, backoff_s=0.5)
        assert report.ingested == 45
    assert delays == [0.5, 1.0]


def test_server_error_mid_way_keeps_what_was_committed(server: ForumStandIn, tmp_path: Path) -> None:
    server.fail_pages = {3}
    with Store.open(tmp_path / "r.db") as store:
        with pytest.raises(IngestionError) as err:
            ingest_forum_api(server.url, store, OPTS, page_size=10, batch_size=10, sleep=lambda s: None, max_attempts=3)
        assert err.value.code == "E111" and "HTTP 500" in err.value.message
        assert store.count() == 20  # pages 1 and 2 committed, cursor with them
        assert store.get_cursor(f"forum-api:{server.url}") == "2026-10-02T09:00:00"
        server.fail_pages = set()
        ingest_forum_api(server.url, store, OPTS, page_size=10, sleep=lambda s: None)
        assert store.count() == 45
