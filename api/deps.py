"""FastAPI dependencies: settings, the store per request, the pipeline components, the caller's key and role."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Annotated, Any

from fastapi import Depends, Header, Request

from api.keys import Principal, verify_key
from api.pipeline import Components
from api.taxonomies import active_taxonomy, ensure_table
from radar.errors import APIError, ErrorCode
from radar.settings import Settings
from search.store import Store

__all__ = ["ComponentsDep", "PrincipalDep", "SettingsDep", "StoreDep", "require", "warm_up"]


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def get_store(settings: SettingsDep) -> Iterator[Store]:
    store = Store.open(settings.db)
    try:
        yield store
    finally:
        store.close()


StoreDep = Annotated[Store, Depends(get_store)]


@lru_cache(maxsize=4)
def _components(settings_json: str, taxonomy_fingerprint: str, db: str) -> Components:
    settings = Settings.model_validate_json(settings_json)
    with Store.open(db) as store:
        taxonomy = active_taxonomy(store, settings)
    components = Components.build(settings, taxonomy=taxonomy)
    components.labeler.warm_up()
    components.tokenizer.warm_up()
    return components


def active_fingerprint(store: Store) -> str:
    ensure_table(store)
    row = store.conn.execute("SELECT fingerprint FROM taxonomy_versions WHERE active = 1").fetchone()
    return "" if row is None else str(row[0])


_building = threading.Lock()


def get_components(settings: SettingsDep, store: StoreDep) -> Components:
    """Built once per settings and active taxonomy: tokenizer, taxonomy and labeler load a few seconds' worth of data.
    The lock keeps concurrent first requests from each building their own."""
    with _building:
        return _components(settings.model_dump_json(exclude={"pii_secret"}), active_fingerprint(store), str(settings.db))


def warm_up(settings: Settings) -> None:
    """Build the components and the facet index before the first request needs them."""
    with Store.open(settings.db) as store:
        components = get_components(settings, store)
        components.facet_cache.get(store)


ComponentsDep = Annotated[Components, Depends(get_components)]


class RateLimiter:
    """A token bucket per key: ``rate`` requests a second on average, bursts up to ``burst``."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key_id: str) -> None:
        now = time.monotonic()
        with self._lock:
            tokens, stamp = self._buckets.get(key_id, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - stamp) * self.rate)
            if tokens < 1.0:
                raise APIError(ErrorCode.E504, limit=self.rate, retry_after=round((1.0 - tokens) / self.rate, 2))
            self._buckets[key_id] = (tokens - 1.0, now)


def get_principal(
    request: Request,
    store: StoreDep,
    x_api_key: Annotated[str | None, Header(description="A key from `radar keys create`")] = None,
) -> Principal:
    # the UI's log-in cookie also works, so its pages can link to API downloads (the CSV export)
    principal = verify_key(store, x_api_key or request.cookies.get("radar_key"))
    request.app.state.limiter.take(principal.key_id)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require(*roles: str) -> Callable[..., Any]:
    """A dependency admitting only these roles (admin always)."""
    allowed = {"admin", *roles}

    def check(principal: PrincipalDep, request: Request) -> Principal:
        if principal.role not in allowed:
            raise APIError(
                ErrorCode.E503, role=principal.role, action=f"{request.method} {request.url.path}", roles=", ".join(sorted(allowed))
            )
        return principal

    return check
