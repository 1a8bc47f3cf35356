from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from radar.errors import TaxonomyError
from taxonomy.loader import bundled_taxonomy_path, load_taxonomy, parse_taxonomy
from taxonomy.versioning import diff_taxonomies


def _bundled() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(bundled_taxonomy_path().read_text(encoding="utf-8"))
    return data


def test_bundled_taxonomy_has_the_five_demand_categories() -> None:
    tax = load_taxonomy()
    top = [lab.name for lab in tax.facet("demand_category").labels if lab.parent is None]
    assert top == ["触点", "消费", "活动", "趋势", "行业"]
    assert {lab.name for lab in tax.facet("complaint_type").labels} == {
        "网络质量",
        "费用争议",
        "业务办理",
        "业务使用",
        "服务质量",
        "营销活动",
        "不知情定制",
        "信息安全",
        "终端",
        "其他",
    }
    assert [lab.name for lab in tax.facet("intent").labels] == ["咨询", "投诉", "办理", "建议"]
    assert tax.facet("demand_category").path("co_data") == "消费/流量"


def test_every_demand_label_routes_to_a_department() -> None:
    for lab in load_taxonomy().facet("demand_category").labels:
        assert lab.department in {"市场", "数据", "集客", "服务", "网络"}


def test_unknown_parent_is_E202() -> None:
    data = _bundled()
    data["facets"][0]["labels"][1]["parent"] = "nope"
    with pytest.raises(TaxonomyError) as err:
        parse_taxonomy(data)
    assert err.value.code == "E202"


def test_duplicate_id_is_E203() -> None:
    data = _bundled()
    labels = data["facets"][0]["labels"]
    labels.append(copy.deepcopy(labels[1]))
    with pytest.raises(TaxonomyError) as err:
        parse_taxonomy(data)
    assert err.value.code == "E203"


def test_cycle_is_rejected() -> None:
    data = _bundled()
    labels = data["facets"][0]["labels"]
    labels[0]["parent"] = labels[1]["id"]  # touchpoint -> tp_hall -> touchpoint
    with pytest.raises(TaxonomyError) as err:
        parse_taxonomy(data)
    assert err.value.code == "E202"


def test_schema_problems_are_E201_naming_the_field(tmp_path: Path) -> None:
    data = _bundled()
    data["facets"][0]["labels"][0]["department"] = "财务"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(TaxonomyError) as err:
        load_taxonomy(path)
    assert err.value.code == "E201" and "department" in err.value.message and str(path) in err.value.message


def test_bad_regex_is_E207() -> None:
    data = _bundled()
    data["facets"][0]["labels"][0]["regexes"] = ["([unclosed"]
    with pytest.raises(TaxonomyError) as err:
        parse_taxonomy(data)
    assert err.value.code == "E207"


def test_fingerprint_and_diff_see_a_rename() -> None:
    old = parse_taxonomy(_bundled())
    data = _bundled()
    data["version"] = "telecom-next"
    data["facets"][0]["labels"][1]["name"] = "实体营业厅"
    new = parse_taxonomy(data)
    assert old.fingerprint != new.fingerprint
    diff = diff_taxonomies(old, new)
    assert diff["facets"]["demand_category"]["renamed"] == ["tp_hall: 营业厅 -> 实体营业厅"]
