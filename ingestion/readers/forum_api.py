"""Forum posts pulled from the forum's HTTP JSON API, page by page, with retries and backoff.

``GET {base_url}/posts?since=<ISO time>&page=<n>&page_size=<k>`` returns
``{"posts": [...], "next_page": n or null}``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from ingestion.readers.forum import post_to_row
from ingestion.rows import BadRow, RawRow
from radar.errors import ErrorCode, IngestionError

__all__ = ["ForumAPIReader"]

logger = logging.getLogger(__name__)

_RETRY_STATUS = {429, 500, 502, 503, 504}


class ForumAPIReader:
    """Yields one RawRow per post (BadRow for a malformed one) across all pages since ``since``."""

    def __init__(
        self,
        base_url: str,
        *,
        since: str | None = None,
        page_size: int = 100,
        max_attempts: int = 5,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        timeout_s: float = 15.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.since = since
        self.page_size = page_size
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.timeout_s = timeout_s
        self.transport = transport
        self.sleep = sleep
        self.requests = 0  # every HTTP request made, retries included

    def rows(self) -> Iterator[RawRow | BadRow]:
        with httpx.Client(timeout=self.timeout_s, transport=self.transport) as client:
            page: int | None = 1
            while page is not None:
                body = self._get_page(client, page)
                location = f"page {page}"
                posts = body.get("posts")
                if not isinstance(posts, list):
                    raise IngestionError(ErrorCode.E111, url=self.base_url, attempts=1, reason=f"{location} has no 'posts' list")
                for i, post in enumerate(posts, start=1):
                    where = f"{location} item {i}"
                    if not isinstance(post, dict) or not post.get("post_id"):
                        yield BadRow(
                            "forum",
                            self.base_url,
                            where,
                            repr(post)[:100_000],
                            ErrorCode.E106.name,
                            ErrorCode.E106.template.format(field="post_id"),
                        )
                        continue
                    yield post_to_row(post, self.base_url, where)
                next_page = body.get("next_page")
                page = int(next_page) if isinstance(next_page, int) and next_page > page else None

    def _get_page(self, client: httpx.Client, page: int) -> dict[str, Any]:
        params: dict[str, str | int] = {"page": page, "page_size": self.page_size}
        if self.since:
            params["since"] = self.since
        reason = ""
        for attempt in range(1, self.max_attempts + 1):
            self.requests += 1
            try:
                response = client.get(f"{self.base_url}/posts", params=params)
                if response.status_code in _RETRY_STATUS:
                    reason = f"HTTP {response.status_code}"
                else:
                    response.raise_for_status()
                    body = response.json()
                    if isinstance(body, dict):
                        return body
                    reason = "the response is not a JSON object"
            except httpx.HTTPStatusError as exc:  # 4xx other than 429: retrying will not help
                raise IngestionError(ErrorCode.E111, url=self.base_url, attempts=attempt, reason=str(exc)) from exc
            except (httpx.TransportError, ValueError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            if attempt < self.max_attempts:
                delay = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
                logger.warning("forum API page %s failed (%s); retry %s in %.1fs", page, reason, attempt, delay)
                self.sleep(delay)
        raise IngestionError(ErrorCode.E111, url=self.base_url, attempts=self.max_attempts, reason=reason)
