"""What every ``radar`` command shares: options, settings, the store, coded errors."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import SecretStr

from api.output import err_console, print_json
from radar.errors import RadarError
from radar.settings import Settings, get_settings

__all__ = ["DbOption", "JsonOption", "coded", "open_store", "settings_for", "store_location"]

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="SQLite store file, or a PostgreSQL URL postgresql+psycopg://user:password@host/db for ingest and label "
        "(default: RADAR_STORE_URL, else RADAR_DB or ./radar.db). Prefer RADAR_STORE_URL for a URL with a password.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
F = TypeVar("F", bound=Callable[..., Any])


def settings_for(db: str | Path | None) -> Settings:
    """The settings with ``--db`` applied: a URL sets the store URL, a path the SQLite file (and wins over a URL)."""
    from search.stores import is_store_url

    settings = get_settings()
    if db is None:
        return settings
    if is_store_url(str(db)):
        return settings.model_copy(update={"store_url": SecretStr(str(db))})
    return settings.model_copy(update={"db": Path(db), "store_url": None})


def store_location(settings: Settings) -> str:
    """The store the settings point at, safe to print (a URL's password masked)."""
    from search.stores import mask_url

    return mask_url(settings.store_url.get_secret_value()) if settings.store_url else str(settings.db)


def coded(func: F) -> F:
    """Turn a RadarError into exit code 1 with its code, message and hint (JSON too with --json)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except RadarError as exc:
            if kwargs.get("as_json"):
                print_json({"error": exc.to_dict()})
            err_console.print(f"[bold red]{exc.code}[/] {exc.message}\n[dim]hint:[/] {exc.hint}", highlight=False)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def open_store(settings: Settings) -> Any:
    """The SQLite store, or the PostgreSQL one when a store URL is set (RADAR_STORE_URL or ``--db URL``)."""
    from search.stores import open_store as open_any

    return open_any(settings.store_url.get_secret_value() if settings.store_url else settings.db)
