"""Entities with spaCy: products, brands, channels, departments, places, amounts, volumes, time.

A blank ``zh`` pipeline whose tokenizer is the project's jieba ``Tokenizer`` (the telecom
dictionary keeps 视频彩铃 or 掌上营业厅 whole), then two components:

1. an ``EntityRuler`` with phrase patterns for the taxonomy's terms (PRODUCT, BRAND, CHANNEL,
   DEPARTMENT) and for provinces and cities (GPE). Phrase patterns are cut by the same tokenizer,
   so they match whole words only: 广州 in 我在广州, not inside an unrelated longer word.
2. ``radar_numeric_entities``: character-level patterns for MONEY (38元, 五十八块, ￥19.9),
   DATA_VOLUME (3G流量, 500兆, 2GB), DURATION (两个小时, 24个月), DATE (2026年10月5日, 上个月15号)
   and MASKED_ID (the masker's placeholders, 138****5678). jieba cuts amounts unpredictably
   (五 / 十八块, 100 / 块钱), so these match characters and the spans snap to token edges.

A number that looks like a phone number (11 digits from 1) or any run of 8+ digits is never an
amount or a volume, whatever unit follows it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from nlp.numerals import parse_number
from nlp.pii import PLACEHOLDER
from radar.errors import ErrorCode, NLPError

if TYPE_CHECKING:
    from nlp.tokenizer import Tokenizer

__all__ = ["ENTITY_LABELS", "Entity", "EntityExtractor", "load_places"]

logger = logging.getLogger(__name__)

ENTITY_LABELS = ("PRODUCT", "BRAND", "CHANNEL", "DEPARTMENT", "GPE", "MONEY", "DATA_VOLUME", "DURATION", "DATE", "MASKED_ID")
_COMPONENT = "radar_numeric_entities"

_CN_NUM = "零〇一二两三四五六七八九十百千万壹贰叁肆伍陆柒捌玖拾佰仟"
_NUM = rf"(?:\d+(?:\.\d+)?|[{_CN_NUM}]+)"
_NO_DIGIT_BEFORE = r"(?<![\d.])"
_PHONE_LIKE = re.compile(r"^(?:1[3-9]\d{9}|\d{8,})$")
_MB_PER = {"T": 1024 * 1024, "TB": 1024 * 1024, "G": 1024, "GB": 1024, "个G": 1024, "M": 1, "MB": 1, "兆": 1, "K": 1 / 1024, "KB": 1 / 1024}

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("MASKED_ID", re.compile("|".join(re.escape(p) for p in PLACEHOLDER.values()) + r"|\d{2,4}\*{3,}\d{2,4}")),
    (
        "MONEY",
        re.compile(
            rf"(?:[￥¥]\s?|人民币\s?)(?P<num>\d+(?:\.\d+)?)(?:元|块钱|块)?"
            rf"|{_NO_DIGIT_BEFORE}(?P<num2>{_NUM})\s?(?P<unit>元|块钱|块|角|毛钱|毛)(?![钱]?[a-zA-Z])"
        ),
    ),
    (
        "DATA_VOLUME",
        re.compile(
            rf"{_NO_DIGIT_BEFORE}(?P<num>\d+(?:\.\d+)?)\s?(?P<unit>TB|GB|MB|KB|个G|兆(?!瓦|赫|宽带|光纤|带宽)|G(?=流量|的流量|通用|定向|国内|全国)|M(?=流量|的流量)|T(?=流量))",
            re.IGNORECASE,
        ),
    ),
    (
        "DATE",
        re.compile(
            rf"{_NO_DIGIT_BEFORE}(?:\d{{4}}[-/.年]\d{{1,2}}(?:[-/.月]\d{{1,2}}[日号]?|月)|\d{{1,2}}月(?:\d{{1,2}}|[{_CN_NUM}]{{1,3}})[日号]"
            r"|(?:上上|上|下|本|这)个?月\d{1,2}[日号]|[今明昨前去]天|[今去前明]年|(?:上|下|本|这)(?:个)?(?:月|周|星期)|月初|月底|月中)"
        ),
    ),
    (
        "DURATION",
        re.compile(
            rf"{_NO_DIGIT_BEFORE}(?:{_NUM}|半|几)(?:个)?多?(?:半)?(?:秒钟|秒|分钟|小时|个钟头|钟头|天|周|星期|个月|年(?![\d{_CN_NUM}]+月))(?:多)?"
        ),
    ),
)


@dataclass(frozen=True, slots=True)
class Entity:
    """One entity. ``value`` is canonical: the taxonomy label id for terms, the amount in yuan for
    MONEY, megabytes for DATA_VOLUME, the province for a city (GPE), else the text itself."""

    label: str
    text: str
    start: int
    end: int
    value: str

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "text": self.text, "start": self.start, "end": self.end, "value": self.value}


@lru_cache(maxsize=1)
def load_places() -> dict[str, str]:
    """Place name -> its province, from ``nlp/data/places.txt`` (full names and short forms)."""
    places: dict[str, str] = {}
    text = resources.files("nlp").joinpath("data/places.txt").read_text(encoding="utf-8")
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        head, _, cities = line.partition(":")
        full, short, *_ = head.split()
        places[full] = places[short] = short
        for city in cities.split():
            for form in _place_forms(city):
                places.setdefault(form, short)
    return places


_ETHNIC = re.compile(r"(朝鲜族|土家族|藏族|羌族|彝族|布依族|苗族|侗族|哈尼族|壮族|傣族|景颇族|白族|傈僳族|回族|蒙古族?|柯尔克孜|哈萨克)")
# short forms too common as ordinary words to stand alone as a place
_AMBIGUOUS_SHORT = frozenset(
    {"白银", "安康", "大同", "中山", "普洱", "黄山", "朝阳", "和平", "长寿", "通化", "三明", "海东", "海西", "海北", "南开"}
)


def _place_forms(name: str) -> list[str]:
    forms = [name]
    if name.endswith("区"):  # districts only by their full name: 和平区, not 和平
        return forms
    short = _ETHNIC.split(name)[0] if "自治州" in name else re.sub(r"(市|地区|盟|林区)$", "", name)
    if short != name and len(short) >= 2 and short not in _AMBIGUOUS_SHORT:
        forms.append(short)
    return forms


def _money_value(m: re.Match[str]) -> str | None:
    raw = m.group("num") or m.group("num2")
    if raw is None or _PHONE_LIKE.match(raw):
        return None
    value = parse_number(raw)
    if value is None:
        return None
    unit = m.groupdict().get("unit") or "元"
    scale = {"角": 0.1, "毛": 0.1, "毛钱": 0.1}.get(unit, 1.0)
    return f"{value * scale:g}"


def _volume_value(m: re.Match[str]) -> str | None:
    raw = m.group("num")
    if _PHONE_LIKE.match(raw.split(".")[0]):
        return None
    return f"{float(raw) * _MB_PER[m.group('unit').upper()]:g}MB"


def find_numeric(text: str) -> list[Entity]:
    """MONEY, DATA_VOLUME, DATE, DURATION and MASKED_ID spans by character patterns; first pattern wins overlaps."""
    taken: list[tuple[int, int]] = []
    out: list[Entity] = []
    for label, pattern in _PATTERNS:
        for m in pattern.finditer(text):
            start, end = m.span()
            if start == end or any(start < e and s < end for s, e in taken):
                continue
            value: str | None = m.group()
            if label == "MONEY":
                value = _money_value(m)
            elif label == "DATA_VOLUME":
                value = _volume_value(m)
            if value is None:
                continue
            taken.append((start, end))
            out.append(Entity(label, m.group(), start, end, value))
    return sorted(out, key=lambda e: e.start)


class EntityExtractor:
    """Entities from text with a spaCy pipeline (see the module docstring).

    ``terms`` maps an entity label to ``{canonical id: [surface forms]}``; the taxonomy builds it
    (``taxonomy.entities.entity_terms``). Construction stores parameters; ``warm_up`` builds the
    pipeline (spaCy and jieba load there, not at import).
    """

    def __init__(
        self,
        terms: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
        tokenizer: Tokenizer | None = None,
        *,
        places: bool = True,
    ) -> None:
        self.terms = {label: dict(by_id) for label, by_id in (terms or {}).items()}
        self.tokenizer = tokenizer
        self.places = places
        self._nlp: Any = None

    def warm_up(self) -> None:
        if self._nlp is not None:
            return
        spacy = _import_spacy()
        from spacy.language import Language

        if self.tokenizer is None:
            from nlp.tokenizer import Tokenizer

            self.tokenizer = Tokenizer()
        self.tokenizer.warm_up()
        nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "char"}}})
        nlp.tokenizer = _SpacyJieba(nlp.vocab, self.tokenizer)
        ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "ORTH", "validate": False})
        ruler.add_patterns(self._patterns())
        if not Language.has_factory(_COMPONENT):
            Language.component(_COMPONENT, func=_numeric_component)
        nlp.add_pipe(_COMPONENT, after="entity_ruler")
        self._nlp = nlp

    def _patterns(self) -> list[dict[str, str]]:
        patterns = [
            {"label": label, "pattern": form, "id": canonical}
            for label, by_id in sorted(self.terms.items())
            for canonical, forms in sorted(by_id.items())
            for form in sorted(set(forms))
            if form.strip()
        ]
        if self.places:
            patterns += [{"label": "GPE", "pattern": name, "id": province} for name, province in sorted(load_places().items())]
        return patterns

    def run(self, text: str) -> list[Entity]:
        return self.run_many([text])[0]

    def run_many(self, texts: Iterable[str], batch_size: int = 256) -> list[list[Entity]]:
        if self._nlp is None:
            self.warm_up()
        return [_entities(doc) for doc in self._nlp.pipe(texts, batch_size=batch_size)]


class _SpacyJieba:
    """spaCy tokenizer protocol over the project's tokenizer: a ``Doc`` whose tokens are jieba's."""

    def __init__(self, vocab: Any, tokenizer: Tokenizer) -> None:
        self.vocab = vocab
        self.tokenizer = tokenizer

    def __call__(self, text: str) -> Any:
        from spacy.tokens import Doc

        words = self.tokenizer.cut(text) if text else []
        return Doc(self.vocab, words=words, spaces=[False] * len(words))

    def pipe(self, texts: Iterable[str], batch_size: int = 1000) -> Iterable[Any]:
        for text in texts:
            yield self(text)

    def to_disk(self, *args: Any, **kwargs: Any) -> None:  # the pipeline is rebuilt from the taxonomy, never saved
        raise NotImplementedError

    def to_bytes(self, **kwargs: Any) -> bytes:
        raise NotImplementedError


def _numeric_component(doc: Any) -> Any:
    """Adds the character-pattern entities where the ruler left the characters free."""
    from spacy.util import filter_spans

    spans = list(doc.ents)
    for ent in find_numeric(doc.text):
        span = doc.char_span(ent.start, ent.end, label=ent.label, kb_id=ent.value, alignment_mode="expand")
        if span is not None:
            spans.append(span)
    doc.ents = filter_spans(spans)  # overlaps: the longest span wins, then the earlier
    return doc


def _entities(doc: Any) -> list[Entity]:
    out = []
    for span in doc.ents:
        value = span.kb_id_ or span.ent_id_ or span.text
        out.append(Entity(span.label_, span.text, span.start_char, span.end_char, value))
    return out


def _import_spacy() -> Any:
    try:
        import spacy
    except ImportError as exc:  # pragma: no cover - spaCy is a declared dependency
        raise NLPError(ErrorCode.E205, package="spacy") from exc
    return spacy
