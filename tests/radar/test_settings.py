from __future__ import annotations

from pathlib import Path

import pytest

from radar.settings import Settings, get_settings


def test_env_prefix_and_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RADAR_DB", str(tmp_path / "x.db"))
    get_settings.cache_clear()
    assert get_settings().db == tmp_path / "x.db"
    assert get_settings() is get_settings()


def test_secrets_never_serialise() -> None:
    settings = Settings(pii_secret="top-secret-value")
    assert "top-secret-value" not in settings.model_dump_json()
    assert "top-secret-value" not in repr(settings)
    assert settings.pii_secret.get_secret_value() == "top-secret-value"
