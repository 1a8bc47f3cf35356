"""Versioned YAML configuration files validated by a pydantic model, with coded errors."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from radar.errors import ErrorCode, RadarError

__all__ = ["load_yaml_model"]

M = TypeVar("M", bound=BaseModel)


def load_yaml_model(path: Path, model: type[M], code: ErrorCode, error: type[RadarError]) -> M:
    """``model`` validated from the YAML at ``path``; any failure raises ``error(code)`` whose
    message names the file and the first problem (``factors.unfounded.weight: ...``)."""
    try:
        return model.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except FileNotFoundError as exc:
        raise error(code, path=str(path), reason="no such file") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise error(code, path=str(path), reason=f"{where}: {first['msg']} ({exc.error_count()} error(s))") from exc
    except yaml.YAMLError as exc:
        raise error(code, path=str(path), reason=str(exc).splitlines()[0][:300]) from exc
