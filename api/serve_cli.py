"""``radar keys create|revoke|list`` and ``radar serve``."""

from __future__ import annotations

from typing import Annotated

import typer

from api.cli_common import DbOption, JsonOption, coded, open_store, settings_for
from api.output import out_console, print_json
from radar.errors import APIError, ErrorCode

__all__ = ["keys_app", "register"]

keys_app = typer.Typer(help="API keys: each has one role; stored hashed, the secret is shown once.", no_args_is_help=True)


@keys_app.command("create")
@coded
def keys_create(
    name: Annotated[str, typer.Option(help="Who or what the key is for (shown in audit logs).")],
    role: Annotated[str, typer.Option(help="admin, demand_manager, complaint_agent, labeler or viewer.")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a key; its secret is printed once and never stored."""
    from api.keys import create_key

    with open_store(settings_for(db)) as store:
        doc = create_key(store, name, role)
    print_json(doc) if as_json else out_console.print(f"{doc['id']} ({doc['role']}, {doc['name']}): {doc['key']}")


@keys_app.command("revoke")
@coded
def keys_revoke(key_id: Annotated[str, typer.Argument()], db: DbOption = None, as_json: JsonOption = False) -> None:
    """Revoke a key at once."""
    from api.keys import revoke_key

    with open_store(settings_for(db)) as store:
        doc = revoke_key(store, key_id)
    print_json(doc) if as_json else out_console.print(doc)


@keys_app.command("list")
@coded
def keys_list(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Keys with their roles and whether they are revoked (never the secrets)."""
    from api.keys import list_keys

    with open_store(settings_for(db)) as store:
        items = list_keys(store)
    print_json({"keys": items}) if as_json else out_console.print(items)


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (each loads the labeler once).")] = 1,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Serve the HTTP API (OpenAPI at /docs) and the web UI (/ui) on the embedded store."""
    import os

    import uvicorn

    from api.app import create_app

    settings = settings_for(db)
    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
        return
    # worker processes rebuild the app from the environment, so pass the database path through it;
    # each keeps its own rate-limit buckets, so each gets its share of the per-key rate
    os.environ["RADAR_DB"] = str(settings.db)
    os.environ["RADAR_API_RATE"] = str(settings.api_rate / workers)
    os.environ["RADAR_API_BURST"] = str(max(1, settings.api_burst // workers))
    _serve_workers(host, port, workers)


def _serve_workers(host: str, port: int, workers: int) -> None:
    """N independent servers, each with its own SO_REUSEPORT socket on the same port: the kernel
    spreads connections across them evenly. (uvicorn's own --workers shares one socket, and
    kept-alive connections piled onto whichever process won the accepts: measured 85 % on one of
    two; and its shared socket lost TCP_NODELAY, uvicorn#3149.)"""
    import multiprocessing
    import signal

    if port == 0:
        raise APIError(ErrorCode.E501, reason="--workers > 1 needs a fixed --port", command="serve")
    context = multiprocessing.get_context("spawn")  # fresh interpreters: nothing half-loaded is forked
    processes = [context.Process(target=_serve_one, args=(host, port), name=f"radar-serve-{i}") for i in range(workers)]
    for process in processes:
        process.start()

    def stop(*_: object) -> None:
        for process in processes:
            process.terminate()

    signal.signal(signal.SIGTERM, stop)
    try:
        for process in processes:
            process.join()
    except KeyboardInterrupt:
        stop()


def _serve_one(host: str, port: int) -> None:
    import socket

    import uvicorn

    from radar.parallel import die_with_parent

    die_with_parent()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and
    # without it every reply on a kept-alive connection waited ~40 ms (Nagle + delayed ACK)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    config = uvicorn.Config("api.app:app_from_env", factory=True, log_level="info")
    uvicorn.Server(config).run(sockets=[sock])


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
    app.command("serve")(coded(serve))
