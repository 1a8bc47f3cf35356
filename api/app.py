"""The HTTP API: one FastAPI app, routes per resource in ``api/routes``, coded JSON errors."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api.deps import RateLimiter
from api.keys import ensure_keys_table
from api.routes import classify, health, proposals, records, search, trends, triage
from radar.errors import RadarError
from radar.settings import Settings, get_settings
from search.store import Store

__all__ = ["create_app"]

logger = logging.getLogger(__name__)

# the caller's mistakes are 4xx; a code not listed here is the caller's too (400), never a 500
STATUS = {"E502": 401, "E503": 403, "E504": 429, "E306": 404, "E404": 404, "E408": 404, "E505": 404, "E405": 409, "E407": 409}


def create_app(settings: Settings | None = None, *, rate: float = 50.0, burst: int = 100) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="Demand Radar (需求雷达)", version="0.1", description="Chinese customer feedback in, labelled and searchable demand out."
    )
    app.state.settings = settings
    app.state.limiter = RateLimiter(rate, burst)
    with Store.open(settings.db) as store:
        ensure_keys_table(store)
    for module in (health, classify, search, records, proposals, triage, trends):
        app.include_router(module.router)

    @app.exception_handler(RadarError)
    async def coded(_: Request, exc: RadarError) -> JSONResponse:
        headers = {"Retry-After": str(exc.fields.get("retry_after", 1))} if exc.code == "E504" else None
        return JSONResponse(exc.to_dict(), status_code=STATUS.get(exc.code, 400), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"])
        body = {"code": "E501", "message": f"Invalid argument: {where}: {first['msg']}", "hint": "See the OpenAPI document at /docs."}
        return JSONResponse(body, status_code=422)

    return app
