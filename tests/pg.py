"""A throwaway PostgreSQL cluster for the store tests: ``PG_URL`` when set, else initdb in a temp dir.

The cluster listens on a unix socket only (in its own temp dir, on a free port number), trusts
local connections, skips fsync, and is stopped and deleted when the session ends. Running as
root, it is owned by and run as the ``postgres`` user (postgres refuses to run as root).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["DATABASE", "postgres_cluster", "unavailable_reason"]

DATABASE = "radar_test"


def unavailable_reason() -> str | None:
    """Why no cluster can be made here (None when one can)."""
    if os.environ.get("PG_URL"):
        return None
    missing = [tool for tool in ("initdb", "pg_ctl") if shutil.which(tool) is None]
    if missing:
        return f"PostgreSQL: PG_URL is not set and {', '.join(missing)} is not on PATH"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "PostgreSQL: running as root and there is no 'postgres' user to run the server as"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_owner(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@contextlib.contextmanager
def postgres_cluster() -> Iterator[str]:
    """A SQLAlchemy URL of an empty database, valid for the block."""
    if os.environ.get("PG_URL"):
        yield os.environ["PG_URL"]
        return
    import psycopg

    home = Path(tempfile.mkdtemp(prefix="radar-pg-"))
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(home, user.pw_uid, user.pw_gid)
    data, port = home / "data", _free_port()
    run = {"check": True, "capture_output": True, "timeout": 120}
    try:
        subprocess.run(
            _as_owner(["initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-locale", "--no-sync"]), **run
        )
        options = f"-c listen_addresses='' -k {home} -p {port} -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        subprocess.run(_as_owner(["pg_ctl", "-D", str(data), "-o", options, "-l", str(home / "log"), "-w", "-t", "60", "start"]), **run)
        try:
            with psycopg.connect(host=str(home), port=port, user="postgres", dbname="postgres", autocommit=True) as conn:
                conn.execute(f"CREATE DATABASE {DATABASE}")
            yield f"postgresql+psycopg://postgres@/{DATABASE}?host={home}&port={port}"
        finally:
            subprocess.run(_as_owner(["pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop"]), check=False, capture_output=True)
    finally:
        shutil.rmtree(home, ignore_errors=True)
