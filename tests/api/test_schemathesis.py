"""schemathesis against the OpenAPI document of a live server on 127.0.0.1: no input makes a 500."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.conftest import Served

pytestmark = pytest.mark.slow


def test_no_generated_request_is_a_server_error(live_server: tuple[str, Served], tmp_path: Path) -> None:
    base, served = live_server
    cli = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or shutil.which("schemathesis")
    if cli is None:
        pytest.skip("schemathesis is not installed (pip install -e '.[dev]')")
    run = subprocess.run(
        [
            cli,
            "run",
            f"{base}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--header",
            f"X-API-Key: {served.keys['admin']}",
            "--max-examples",
            "15",
            "--seed",
            "20261124",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    summary = run.stdout[run.stdout.find("SUMMARY") :]
    assert "Server error" not in run.stdout, run.stdout[-4000:]
    assert run.returncode == 0, summary or run.stderr[-2000:]
    assert "Tested: " in summary  # it really ran the operations
