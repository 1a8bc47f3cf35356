"""Load and validate taxonomy YAML files."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from radar.errors import ErrorCode, RadarError, TaxonomyError
from taxonomy.schema import Taxonomy

__all__ = ["bundled_taxonomy_path", "load_taxonomy", "parse_taxonomy"]


def bundled_taxonomy_path() -> Path:
    return Path(__file__).parent / "data" / "telecom.yaml"


def parse_taxonomy(data: Any, source: str = "<memory>") -> Taxonomy:
    """Validate a parsed YAML document; every problem becomes an E201 naming the file."""
    if not isinstance(data, dict):
        raise TaxonomyError(ErrorCode.E201, path=source, reason="the top level must be a mapping")
    try:
        return Taxonomy.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()[:10])
        raise TaxonomyError(ErrorCode.E201, path=source, reason=problems) from exc


@lru_cache(maxsize=8)
def _load_cached(path: Path, mtime_ns: int) -> Taxonomy:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TaxonomyError(ErrorCode.E201, path=str(path), reason=str(exc)) from exc
    except yaml.YAMLError as exc:
        raise TaxonomyError(ErrorCode.E201, path=str(path), reason=f"not valid YAML: {exc}") from exc
    try:
        return parse_taxonomy(data, str(path))
    except TaxonomyError:
        raise
    except RadarError as exc:  # pragma: no cover - defensive
        raise TaxonomyError(ErrorCode.E201, path=str(path), reason=exc.message) from exc


def load_taxonomy(path: Path | str | None = None) -> Taxonomy:
    """Load a taxonomy file (the bundled telecom taxonomy when ``path`` is None)."""
    resolved = Path(path) if path is not None else bundled_taxonomy_path()
    if not resolved.is_file():
        raise TaxonomyError(ErrorCode.E201, path=str(resolved), reason="file not found")
    return _load_cached(resolved.resolve(), resolved.stat().st_mtime_ns)
