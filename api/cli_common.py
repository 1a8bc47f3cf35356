"""What every ``radar`` command shares: options, settings, the store, coded errors."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from api.output import err_console, print_json
from radar.errors import RadarError
from radar.settings import Settings, get_settings

__all__ = ["DbOption", "JsonOption", "coded", "open_store", "settings_for"]

DbOption = Annotated[Path | None, typer.Option("--db", help="SQLite store (default: RADAR_DB or ./radar.db).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
F = TypeVar("F", bound=Callable[..., Any])


def settings_for(db: Path | None) -> Settings:
    settings = get_settings()
    return settings.model_copy(update={"db": db}) if db is not None else settings


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
    from search.store import Store

    return Store.open(settings.db)
