from __future__ import annotations

from api.pipeline import Components
from taxonomy.classifiers.base import Document
from taxonomy.entities import ENTITY_FACETS, entity_terms


def test_terms_cover_every_active_entity_label(components: Components) -> None:
    terms = entity_terms(components.taxonomy)
    for facet_name, label in ENTITY_FACETS.items():
        facet = components.taxonomy.facet(facet_name)
        assert set(terms[label]) == {facet.path(lab.id) for lab in facet.active()}
    assert terms["DEPARTMENT"]["集客"] and "政企部" in terms["DEPARTMENT"]["集客"]


def test_entities_agree_with_the_labellers_entity_facets(components: Components) -> None:
    """The spaCy ruler and the Aho-Corasick rules read the same taxonomy terms: where the ruler finds
    a product, brand or channel, the labeller's facet holds that label."""
    texts = [
        "我在营业厅办了视频彩铃，还有和彩云",
        "动感地带的套餐通过中国移动APP办理",
        "宽带老是断，10086也不管",
        "全球通客户经理推荐的咪咕视频会员",
    ]
    labeler = components.labeler
    for text, ents in zip(texts, components.entities.run_many(texts), strict=True):
        result = labeler.run(Document(text))
        for ent in ents:
            facet = {v: k for k, v in ENTITY_FACETS.items()}.get(ent.label)
            if facet is None:
                continue
            assert ent.value in [lab.label for lab in result.labels.get(facet, [])], (text, ent)
