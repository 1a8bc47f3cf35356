from __future__ import annotations

import pytest

from nlp.pii import customer_key, find_pii, luhn_ok, mask_pii, normalize_mobile, valid_id_card


def _id_with_checksum(body17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body17 + "10X98765432"[sum(int(d) * w for d, w in zip(body17, weights, strict=True)) % 11]


def _luhn_complete(prefix: str) -> str:
    for d in "0123456789":
        if luhn_ok(prefix + d):
            return prefix + d
    raise AssertionError


@pytest.mark.parametrize(
    "text",
    ["我的号码是13912345678", "号码139 1234 5678", "+86 139-1234-5678", "0086 13912345678", "电话幺三九幺二三四五六七八"],
)
def test_mobile_numbers_are_masked(text: str) -> None:
    masked, matches = mask_pii(text)
    assert "<手机号>" in masked
    assert [m.kind for m in matches] == ["mobile"]


def test_id_card_needs_a_valid_checksum() -> None:
    good = _id_with_checksum("44010619900101123")
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    assert valid_id_card(good) and not valid_id_card(bad)
    assert mask_pii(f"身份证{good}")[0] == "身份证<身份证号>"
    assert "<身份证号>" not in mask_pii(f"编号{bad}")[0]


def test_bank_card_needs_luhn() -> None:
    card = _luhn_complete("622202100112345678")
    assert mask_pii(f"卡号{card}")[0] == "卡号<银行卡号>"
    wrong = card[:-1] + str((int(card[-1]) + 1) % 10)
    assert "<银行卡号>" not in mask_pii(f"卡号{wrong}")[0]


@pytest.mark.parametrize(
    "text",
    [
        "套餐38元",
        "4G飞享套餐58",
        "500兆流量",
        "2026-10-01 12:00",
        "20261001120000",
        "10086",
        "12580",
        "流量3GB用了1024MB",
        "合约期24个月",
        "订单号2026100112",
        "五十八块",
        "1.5G",
    ],
)
def test_look_alikes_are_not_pii(text: str) -> None:
    assert find_pii(text) == []


def test_email_landline_broadband() -> None:
    masked, _ = mask_pii("邮箱abc.d@139.com 座机020-12345678 宽带账号：gz12345678")
    assert masked == "邮箱<邮箱> 座机<固话> 宽带账号：<宽带账号>"


def test_customer_key_links_forms_of_one_number() -> None:
    forms = ["13912345678", "139 1234 5678", "+8613912345678", "1.3912345678E10", "13912345678.0"]
    keys = {customer_key(f, "s") for f in forms}
    assert len(keys) == 1 and None not in keys
    assert customer_key("13912345678", "other-secret") not in keys
    assert customer_key("", "s") is None and customer_key("12345", "s") is None
    assert normalize_mobile("幺三九幺二三四五六七八") == "13912345678"


def test_hand_checked_list_has_no_misses_and_no_false_positives() -> None:
    """tests/nlp/data/pii_checked.tsv: real-looking sentences, positives of each kind and look-alikes."""
    import csv
    from pathlib import Path

    path = Path(__file__).parent / "data" / "pii_checked.tsv"
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    assert len(rows) >= 200
    missed = [r["text"] for r in rows if r["kind"] != "none" and r["kind"] not in {m.kind for m in find_pii(r["text"])}]
    false_positives = [(r["text"], find_pii(r["text"])) for r in rows if r["kind"] == "none" and find_pii(r["text"])]
    assert missed == [] and false_positives == []
    import re

    masked = [mask_pii(r["text"])[0] for r in rows if r["kind"] in ("mobile", "id_card", "bank_card")]
    assert not [m for m in masked if re.search(r"\d[\d -]{6,}\d|[零幺二两三四五六七八九洞]{7,}", m)]  # no number left behind
