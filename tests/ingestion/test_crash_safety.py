"""kill -9 in the middle of an ingest, then re-run: the store ends exactly as an uninterrupted run."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingestion.sample.generator import write_ticket_csv

ROOT = Path(__file__).resolve().parents[2]


def _ingest_cmd(csv_path: Path, db: Path) -> list[str]:
    return [sys.executable, "-m", "api", "ingest", "tickets", str(csv_path), "--db", str(db), "--json"]


def _state(db: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    conn = sqlite3.connect(db)
    records = conn.execute("SELECT id, body, content_hash, dedup_key, simhash, duplicate_of FROM records ORDER BY id").fetchall()
    quarantine = conn.execute("SELECT source, file, location, code, raw FROM quarantine ORDER BY location").fetchall()
    conn.close()
    return records, quarantine


def _count(db: Path) -> int:
    try:
        conn = sqlite3.connect(db, timeout=1)
        n = conn.execute("SELECT COUNT(*) FROM records").fetchone()[0]
        conn.close()
        return int(n)
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_kill_mid_ingest_then_rerun_equals_uninterrupted(tmp_path: Path) -> None:
    csv_path = write_ticket_csv(tmp_path / "tickets.csv", 12_000)
    reference = tmp_path / "reference.db"
    subprocess.run(_ingest_cmd(csv_path, reference), check=True, capture_output=True, cwd=ROOT)

    crashed = tmp_path / "crashed.db"
    proc = subprocess.Popen(_ingest_cmd(csv_path, crashed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    deadline = time.monotonic() + 60
    while _count(crashed) == 0 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = _count(crashed)
    assert 0 < partial < 12_000, "the kill must land mid-way for this test to mean anything"
    time.sleep(0.5)
    leftovers = subprocess.run(["pgrep", "-f", str(crashed)], capture_output=True, text=True, check=False).stdout.split()
    assert not leftovers, "worker processes must end with the killed ingest"

    subprocess.run(_ingest_cmd(csv_path, crashed), check=True, capture_output=True, cwd=ROOT)
    assert _state(crashed) == _state(reference)
