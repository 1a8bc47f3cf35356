"""The HTTP API: one FastAPI app, routes per resource in ``api/routes``, coded JSON errors."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from api.deps import RateLimiter, warm_up
from api.keys import Principal, ensure_keys_table, verify_key
from api.metrics import MetricsMiddleware, RequestMetrics
from api.routes import classify, health, ingest, jobs, models, proposals, records, search, taxonomy, trends, triage
from api.schemas import ERRORS
from api.ui import routes as ui
from radar.errors import ErrorCode, RadarError, SearchError
from radar.settings import Settings, get_settings
from search.store import Store
from search.stores import mask_url

__all__ = ["app_from_env", "create_app"]

logger = logging.getLogger(__name__)

# the caller's mistakes are 4xx; a code not listed here is the caller's too (400), never a 500
STATUS = {
    "E502": 401,
    "E503": 403,
    "E504": 429,
    "E306": 404,
    "E404": 404,
    "E408": 404,
    "E505": 404,
    "E507": 404,
    "E510": 404,
    "E511": 404,
    "E405": 409,
    "E407": 409,
    "E506": 409,
    "E508": 413,
    "E509": 415,
    "E512": 422,
    "E201": 422,
    "E501": 422,
}


def create_app(settings: Settings | None = None, *, rate: float | None = None, burst: int | None = None) -> FastAPI:
    settings = settings or get_settings()
    if settings.store_url is not None:  # the routes, keys and UI write SQLite SQL: refuse before serving anything
        raise SearchError(ErrorCode.E307, feature="The HTTP API and web UI", store=mask_url(settings.store_url.get_secret_value()))
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(warm_up, settings)  # the first requests should not pay for loading
        # the loaded dictionaries and models are millions of long-lived objects: a full collection
        # walking them stalled every request for ~300 ms now and then; frozen, the collector skips them
        gc.collect()
        gc.freeze()
        yield

    app = FastAPI(
        title="Demand Radar (需求雷达)",
        version="0.1",
        description="Chinese customer feedback in, labelled and searchable demand out.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.limiter = RateLimiter(rate or settings.api_rate, burst or settings.api_burst)
    app.state.metrics = RequestMetrics()
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    with Store.open(settings.db) as store:
        ensure_keys_table(store)
    app.include_router(health.router)
    for module in (classify, search, records, proposals, triage, trends, ingest, taxonomy, models, jobs):
        app.include_router(module.router, responses=ERRORS)
    app.include_router(ui.router)
    app.mount("/static", StaticFiles(directory=Path(ui.__file__).parent / "static"), name="static")

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/ui/", status_code=307)

    @app.exception_handler(RadarError)
    async def coded(request: Request, exc: RadarError) -> Response:
        status = STATUS.get(exc.code, 400)
        if request.url.path.startswith("/ui/") and exc.code != "E504":
            principal = _ui_principal(request)
            if principal is not None:
                return ui.page(request, "error.html", principal, status_code=status, error=exc)
        headers = {"Retry-After": str(exc.fields.get("retry_after", 1))} if exc.code == "E504" else None
        return JSONResponse(exc.to_dict(), status_code=status, headers=headers)

    @app.exception_handler(ui.LoginRequired)
    async def login_required(_: Request, exc: ui.LoginRequired) -> RedirectResponse:
        return RedirectResponse(f"/ui/login?next={quote(exc.next_url)}", status_code=303)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"])
        body = {"code": "E501", "message": f"Invalid argument: {where}: {first['msg']}", "hint": "See the OpenAPI document at /docs."}
        return JSONResponse(body, status_code=422)

    return app


def _ui_principal(request: Request) -> Principal | None:
    """Who is logged in to the UI, for rendering an error page in the site's frame (None: plain JSON)."""
    with Store.open(request.app.state.settings.db) as store:
        try:
            return verify_key(store, request.cookies.get(ui.COOKIE))
        except RadarError:
            return None


def app_from_env() -> FastAPI:
    """The app for ``uvicorn --factory`` (several worker processes): settings from ``RADAR_*``."""
    return create_app(get_settings())
