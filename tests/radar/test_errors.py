from __future__ import annotations

import re

from radar.errors import ErrorCode, IngestionError, RadarError, SearchError, TaxonomyError


def test_codes_follow_their_ranges() -> None:
    for code in ErrorCode:
        assert re.fullmatch(r"E[1-5]\d\d", code.name)
        message, hint = code.value
        assert message and hint, f"{code.name} must say the cause and the fix"


def test_error_carries_code_message_and_hint() -> None:
    exc = IngestionError(ErrorCode.E102, path="a.csv", tried="utf-8, gb18030")
    assert exc.code == "E102"
    assert "a.csv" in exc.message and "gb18030" in exc.message
    assert "--encoding" in exc.hint
    assert exc.to_dict() == {"code": "E102", "message": exc.message, "hint": exc.hint}
    assert isinstance(exc, RadarError)


def test_missing_template_field_stays_readable() -> None:
    exc = SearchError(ErrorCode.E303, value="x")
    assert "{options}" in exc.hint  # not a KeyError


def test_taxonomy_error_is_an_nlp_error() -> None:
    from radar.errors import NLPError

    assert issubclass(TaxonomyError, NLPError)
