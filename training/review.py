"""The review loop: the least certain labels go out to labellers as XLSX, their answers come back for training.

``export_review`` picks, for one facet, the records the labeler flagged ``needs_review``, then those
where the rules and a model disagree, then those with the lowest top score; ``import_review`` checks
the labellers' answers against the facet and keeps them, with who and when, in ``human_labels``;
``reviewed_data`` turns them into ``LabelledData`` for ``radar train``.

The store is passed in, not imported: training sits below the search layer (tests/test_layering.py).
"""

from __future__ import annotations

import hashlib
import logging
import re
import sqlite3
import zipfile
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from radar.errors import ErrorCode, IngestionError, NLPError, RadarError
from radar.records import Label, Record
from radar.tables import cell_text
from taxonomy.classifiers.base import Candidate, Document
from taxonomy.classifiers.rules import RulesClassifier
from taxonomy.classifiers.trained import TrainedClassifier
from taxonomy.schema import Facet, Taxonomy
from training.data import LabelledData

__all__ = [
    "COLUMNS",
    "Checked",
    "REASONS",
    "ExportReport",
    "ImportReport",
    "Opinion",
    "Pick",
    "Rejection",
    "ReviewStore",
    "ReviewedRow",
    "check_rows",
    "disagree",
    "ensure_table",
    "export_review",
    "import_review",
    "read_review",
    "resolve_labels",
    "review_row",
    "reviewed_data",
    "select_candidates",
    "top_opinion",
    "write_xlsx",
]

logger = logging.getLogger(__name__)

# why a record was picked, in the order picks are made
REASONS = ("needs_review", "disagreement", "low_score")
# (machine-readable key, the Chinese header shown under it); import reads the key, the first header line
COLUMNS: tuple[tuple[str, str], ...] = (
    ("record_id", "记录编号"),
    ("text", "客户原话"),
    ("facet", "维度"),
    ("current_label", "当前标签"),
    ("score", "置信度"),
    ("source", "来源"),
    ("alternatives", "候选标签"),
    ("reason", "入选原因"),
    ("human_label", "人工标签（多个用 | 分隔）"),
    ("labeller", "标注人"),
)
_WIDTHS = (24, 60, 14, 22, 8, 18, 40, 14, 24, 10)  # column widths in characters, in COLUMNS order
REQUIRED = ("record_id", "facet", "human_label")
SHEET, LABELS_SHEET = "review", "labels"
DEFAULT_SCAN = 5000  # labelled records compared for disagreements: bounds the export's cost on a large store
MAX_CELL_CHARS = 32_000  # Excel keeps at most 32,767 characters in a cell
_SEPARATOR = re.compile(r"[|｜]")  # labellers on a Chinese keyboard type the full-width bar as often as the ASCII one
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # control characters XLSX cannot hold

_SCHEMA = """
CREATE TABLE IF NOT EXISTS human_labels (
    record_id TEXT NOT NULL,
    facet TEXT NOT NULL,
    label TEXT NOT NULL,
    labeller TEXT NOT NULL,
    at TEXT NOT NULL,
    file TEXT NOT NULL,
    PRIMARY KEY (record_id, facet, label)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS human_labels_facet ON human_labels(facet, record_id);
"""


class ReviewStore(Protocol):
    """What the review loop needs of ``search.store.Store`` (typed here: training may not import search)."""

    conn: sqlite3.Connection

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]: ...

    def get_by_rowids(self, rowids: Sequence[int]) -> list[Record]: ...


def ensure_table(store: ReviewStore) -> None:
    store.conn.executescript(_SCHEMA)


# -- choosing what to review (pure) -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pick:
    rowid: int
    record_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Opinion:
    """One classifier's label for the facet, as a path (``消费/流量``)."""

    label: str
    score: float
    source: str


def select_candidates(groups: Sequence[Iterable[Pick]], limit: int) -> list[Pick]:
    """Picks from each group in turn, never the same record twice, at most ``limit``.

    Groups are consumed lazily: a costly later group is only read as far as the limit needs.
    """
    seen: set[str] = set()
    out: list[Pick] = []
    for group in groups:
        if len(out) >= limit:
            break
        for pick in group:
            if pick.record_id not in seen:
                seen.add(pick.record_id)
                out.append(pick)
                if len(out) >= limit:
                    break
    return out


def top_opinion(opinions: Iterable[Opinion]) -> Opinion | None:
    """The most confident opinion; on a tie the most specific label (a sub-label lifts its parent to its score)."""
    return min(opinions, key=lambda o: (-o.score, -o.label.count("/"), o.label), default=None)


def disagree(rules: Opinion | None, model: Opinion | None) -> bool:
    """Both gave a label and neither label contains the other (``消费`` and ``消费/流量`` agree)."""
    if rules is None or model is None:
        return False
    a, b = rules.label, model.label
    return a != b and not a.startswith(b + "/") and not b.startswith(a + "/")


def _clip(value: str) -> str:
    return _ILLEGAL.sub("", value)[:MAX_CELL_CHARS]


def review_row(record: Record, facet: Facet, reason: str, opinions: Sequence[Opinion]) -> dict[str, Any]:
    """One spreadsheet row: what the store holds for the facet and what the classifiers propose."""
    stored = record.labels.get(facet.name, [])
    current = {lab.label for lab in stored}
    others = sorted((o for o in opinions if o.label not in current), key=lambda o: (-o.score, o.label))
    return {
        "record_id": record.id,
        "text": _clip(record.customer_text()),
        "facet": facet.name,
        "current_label": " | ".join(lab.label for lab in stored),
        "score": max((lab.score for lab in stored), default=None),
        "source": " | ".join(dict.fromkeys(lab.source for lab in stored)),
        "alternatives": "；".join(f"{o.label} {o.score:.2f} {o.source}" for o in others[:4]),
        "reason": reason,
        "human_label": None,
        "labeller": None,
    }


# -- choosing what to review (store) ------------------------------------------------------------

# repeats are left out (labelling one teaches nothing new), and so are records a human already labelled
_ELIGIBLE = "r.duplicate_of IS NULL AND r.id NOT IN (SELECT record_id FROM human_labels WHERE facet = :facet)"


def _needs_review(store: ReviewStore, facet: str, limit: int) -> list[Pick]:
    rows = store.conn.execute(
        f"SELECT r.rowid, r.id FROM needs_review n JOIN records r ON r.rowid = n.record_rowid "
        f"WHERE n.facet = :facet AND {_ELIGIBLE} ORDER BY r.rowid LIMIT :limit",
        {"facet": facet, "limit": limit},
    ).fetchall()
    return [Pick(int(r[0]), str(r[1]), "needs_review") for r in rows]


def _lowest_scored(store: ReviewStore, facet: str, limit: int) -> list[Pick]:
    rows = store.conn.execute(
        f"SELECT r.rowid, r.id, MAX(l.score) AS top FROM labels l JOIN records r ON r.rowid = l.record_rowid "
        f"WHERE l.facet = :facet AND {_ELIGIBLE} GROUP BY r.rowid ORDER BY top, r.id LIMIT :limit",
        {"facet": facet, "limit": limit},
    ).fetchall()
    return [Pick(int(r[0]), str(r[1]), "low_score") for r in rows]


def _attached_models(store: ReviewStore, taxonomy: Taxonomy, facet: str) -> list[TrainedClassifier]:
    """The facet's attached models; one that cannot load is left out so the export still runs."""
    out = []
    for row in store.conn.execute("SELECT path FROM models WHERE attached = 1 AND facet = ? ORDER BY id", (facet,)):
        clf = TrainedClassifier(Path(row[0]), taxonomy, facet)
        try:
            clf.warm_up()
        except RadarError as exc:
            logger.warning("review: model %s is left out of the comparison: %s", row[0], exc)
            continue
        out.append(clf)
    return out


def _has_model_labels(store: ReviewStore, facet: str) -> bool:
    row = store.conn.execute("SELECT 1 FROM labels WHERE facet = ? AND source LIKE '%model:%' LIMIT 1", (facet,)).fetchone()
    return row is not None


def _as_opinions(facet: Facet, cands: Iterable[Candidate]) -> list[Opinion]:
    return [Opinion(facet.path(c.label_id), c.score, c.source) for c in cands if c.facet == facet.name and c.label_id in facet.by_id]


def _stored_model_opinions(labels: Iterable[Label]) -> list[Opinion]:
    return [Opinion(lab.label, lab.score, lab.source) for lab in labels if "model:" in lab.source]


class _Opinions:
    """Rules and model opinions on records for one facet.

    The store keeps only the ensemble's merged result, not each classifier's candidates, so the
    rules are re-run on the text; a model's opinion comes from running the facet's attached
    models, or, with none attached, from stored labels a model took part in.
    """

    def __init__(self, facet: Facet, rules: RulesClassifier, models: Sequence[TrainedClassifier]) -> None:
        self.facet, self.rules, self.models = facet, rules, models

    def of(self, records: Sequence[Record]) -> list[tuple[list[Opinion], list[Opinion]]]:
        docs = [Document(text=r.customer_text(), source=r.source.value) for r in records]
        rules = [_as_opinions(self.facet, self.rules.run(d)) for d in docs]
        if self.models:
            by_model = [clf.run_many(docs) for clf in self.models]
            models = [_as_opinions(self.facet, (c for cands in per_doc for c in cands)) for per_doc in zip(*by_model, strict=True)]
        else:
            models = [_stored_model_opinions(r.labels.get(self.facet.name, [])) for r in records]
        return list(zip(rules, models, strict=True))


def _records(store: ReviewStore, picks: Sequence[Pick]) -> list[tuple[Pick, Record]]:
    by_id = {r.id: r for r in store.get_by_rowids([p.rowid for p in picks])}
    return [(p, by_id[p.record_id]) for p in picks if p.record_id in by_id]


def _disagreements(store: ReviewStore, scan: Sequence[Pick], opinions: _Opinions, batch: int = 500) -> Iterator[Pick]:
    """Records (least certain first) whose rules and model tops differ; lazy, so the scan stops at the limit."""
    for i in range(0, len(scan), batch):
        pairs = _records(store, scan[i : i + batch])
        for (pick, _), (rules, model) in zip(pairs, opinions.of([rec for _, rec in pairs]), strict=True):
            if disagree(top_opinion(rules), top_opinion(model)):
                yield Pick(pick.rowid, pick.record_id, "disagreement")


# -- writing the spreadsheet ----------------------------------------------------------------------


def _put(sheet: Any, row: int, col: int, value: Any) -> Any:
    cell = sheet.cell(row, col, _clip(value) if isinstance(value, str) else value)
    if isinstance(value, str):
        cell.data_type = "s"  # a customer text starting with '=' must stay text, never become a formula
    return cell


def write_xlsx(rows: Sequence[Mapping[str, Any]], facet: Facet, out: Path) -> None:
    """The review sheet (English key and Chinese name in each header cell) and a sheet of the facet's labels."""
    import openpyxl
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = SHEET
    for col, (key, name) in enumerate(COLUMNS, 1):
        cell = _put(sheet, 1, col, f"{key}\n{name}")
        cell.font, cell.alignment = Font(bold=True), Alignment(wrap_text=True, vertical="top")
    for r, row in enumerate(rows, 2):
        for col, (key, _) in enumerate(COLUMNS, 1):
            _put(sheet, r, col, row.get(key))
    for col, width in enumerate(_WIDTHS, 1):
        sheet.column_dimensions[get_column_letter(col)].width = width
    sheet.freeze_panes = "C2"
    labels = book.create_sheet(LABELS_SHEET)
    active = facet.active()
    for r, values in enumerate([("label", "name", "description"), *((facet.path(lab.id), lab.name, lab.description) for lab in active)], 1):
        for col, value in enumerate(values, 1):
            _put(labels, r, col, value)
    if not facet.multi_label and rows:  # one label per row: offer the facet's labels as a drop-down
        check = DataValidation(type="list", formula1=f"{LABELS_SHEET}!$A$2:$A${len(active) + 1}", allow_blank=True)
        letter = get_column_letter([key for key, _ in COLUMNS].index("human_label") + 1)
        check.add(f"{letter}2:{letter}{len(rows) + 1}")
        sheet.add_data_validation(check)
    out.parent.mkdir(parents=True, exist_ok=True)
    book.save(out)


@dataclass
class ExportReport:
    path: Path
    rows: int
    by_reason: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "rows": self.rows, "by_reason": self.by_reason}


def export_review(
    store: ReviewStore, taxonomy: Taxonomy, facet_name: str, out: Path, *, limit: int = 200, scan_limit: int = DEFAULT_SCAN
) -> ExportReport:
    """Write up to ``limit`` records to review for the facet (E204 for an unknown facet)."""
    facet = taxonomy.facet(facet_name)
    ensure_table(store)
    rules = RulesClassifier(taxonomy)
    models = _attached_models(store, taxonomy, facet.name)
    opinions = _Opinions(facet, rules, models)
    scan = _lowest_scored(store, facet.name, max(scan_limit, 2 * limit))
    compare = bool(models) or _has_model_labels(store, facet.name)
    groups: list[Iterable[Pick]] = [
        _needs_review(store, facet.name, limit),
        _disagreements(store, scan, opinions) if compare else (),
        scan,  # the lowest top score first
    ]
    pairs = _records(store, select_candidates(groups, limit))
    found = opinions.of([rec for _, rec in pairs])
    rows = [review_row(rec, facet, pick.reason, [*r, *m]) for (pick, rec), (r, m) in zip(pairs, found, strict=True)]
    write_xlsx(rows, facet, out)
    by_reason = {reason: sum(row["reason"] == reason for row in rows) for reason in REASONS}
    logger.info("review export %s: %d rows %s (compared with a model: %s)", facet.name, len(rows), by_reason, compare)
    return ExportReport(out, len(rows), by_reason)


# -- reading the labellers' answers -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReviewedRow:
    """One data row of a returned sheet; ``row`` is the spreadsheet's row number (the header is row 1)."""

    row: int
    record_id: str
    facet: str
    human_label: str
    labeller: str


@dataclass(frozen=True, slots=True)
class Rejection:
    row: int
    label: str
    reason: str


@dataclass
class ImportReport:
    rows: int = 0
    stored: int = 0  # records (per facet) whose human labels were stored
    skipped_empty: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "stored": self.stored,
            "skipped_empty": self.skipped_empty,
            "rejected": [asdict(r) for r in self.rejected],
        }


def _header_key(value: Any) -> str:
    return cell_text(value).split("\n", 1)[0].strip().lower()


def read_review(path: Path) -> list[ReviewedRow]:
    """The rows of a returned review sheet that name a record or carry a label (E101 unreadable, E106 missing column)."""
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    if not path.is_file():
        raise IngestionError(ErrorCode.E101, path=str(path), reason="no such file")
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, InvalidFileException) as exc:  # whatever a non-workbook raises
        raise IngestionError(ErrorCode.E101, path=str(path), reason=f"not an XLSX workbook ({exc})") from exc
    try:
        sheet = book[SHEET] if SHEET in book.sheetnames else book.worksheets[0]
        values = sheet.iter_rows(values_only=True)
        header = [_header_key(v) for v in next(values, ())]
        for key in REQUIRED:
            if key not in header:
                raise IngestionError(ErrorCode.E106, field=key)
        out = []
        for number, cells in enumerate(values, 2):
            row = {k: cell_text(v) for k, v in zip(header, cells, strict=False) if k}
            if row.get("record_id") or row.get("human_label"):
                out.append(
                    ReviewedRow(number, row.get("record_id", ""), row.get("facet", ""), row.get("human_label", ""), row.get("labeller", ""))
                )
        return out
    finally:
        book.close()


def resolve_labels(facet: Facet, raw: str) -> tuple[list[str], list[tuple[str, str]]]:
    """A cell's labels as the facet's paths, and the parts that are not labels with why.

    A label is given by its path (``消费/流量``) or, when the name is unique in the facet, by its name.
    """
    by_path = {facet.path(lab.id): lab for lab in facet.labels}
    by_name: dict[str, list[str]] = {}
    for path, lab in by_path.items():
        by_name.setdefault(lab.name, []).append(path)
    paths: list[str] = []
    problems: list[tuple[str, str]] = []
    for part in dict.fromkeys(p.strip() for p in _SEPARATOR.split(raw) if p.strip()):
        found = [part] if part in by_path else by_name.get(part, [])
        if not found:
            problems.append((part, f"unknown label for facet {facet.name}"))
        elif len(found) > 1:
            problems.append((part, f"ambiguous name, use one of the paths: {', '.join(found)}"))
        elif by_path[found[0]].retired:
            problems.append((part, "retired label"))
        elif found[0] not in paths:
            paths.append(found[0])
    if not problems and len(paths) > 1 and not facet.multi_label:
        problems.append((raw, f"facet {facet.name} takes one label"))
    return paths, problems


@dataclass
class Checked:
    accepted: dict[tuple[str, str], tuple[list[str], str]] = field(default_factory=dict)  # (record, facet) -> (paths, labeller)
    rejected: list[Rejection] = field(default_factory=list)
    skipped_empty: int = 0


def check_rows(rows: Sequence[ReviewedRow], taxonomy: Taxonomy, known_ids: Collection[str], labeller: str | None = None) -> Checked:
    """Valid rows by (record, facet), the rest as rejections; a later row for the same record and facet wins.

    ``labeller`` overrides the sheet's labeller column; a filled row with neither raises E106.
    """
    unnamed = [r.row for r in rows if r.human_label and not (labeller or r.labeller)]
    if unnamed:
        rows_text = ", ".join(map(str, unnamed[:10])) + (" …" if len(unnamed) > 10 else "")
        raise IngestionError(ErrorCode.E106, field=f"labeller (rows {rows_text}; fill the column or pass --labeller)")
    checked = Checked()
    for r in rows:
        if not r.human_label:
            checked.skipped_empty += 1
            continue
        problems = _row_problems(r, taxonomy, known_ids)
        if problems:
            checked.rejected += [Rejection(r.row, label, reason) for label, reason in problems]
            continue
        paths, problems = resolve_labels(taxonomy.by_name[r.facet], r.human_label)
        if problems:
            checked.rejected += [Rejection(r.row, label, reason) for label, reason in problems]
            continue
        checked.accepted[(r.record_id, r.facet)] = (paths, labeller or r.labeller)
    return checked


def _row_problems(row: ReviewedRow, taxonomy: Taxonomy, known_ids: Collection[str]) -> list[tuple[str, str]]:
    if not row.record_id:
        return [(row.human_label, "no record_id")]
    if row.record_id not in known_ids:
        return [(row.human_label, f"unknown record {row.record_id}")]
    if row.facet not in taxonomy.by_name:
        return [(row.human_label, f"unknown facet '{row.facet}'")]
    return []


def _known_ids(store: ReviewStore, ids: Iterable[str]) -> set[str]:
    wanted = sorted(set(ids))
    found: set[str] = set()
    for i in range(0, len(wanted), 500):  # SQLite limits the parameters of one statement
        chunk = wanted[i : i + 500]
        found.update(r[0] for r in store.conn.execute(f"SELECT id FROM records WHERE id IN ({','.join('?' * len(chunk))})", chunk))
    return found


def import_review(
    store: ReviewStore, taxonomy: Taxonomy, path: Path, *, labeller: str | None = None, at: str | None = None
) -> ImportReport:
    """Keep the valid human labels of a returned sheet in one transaction.

    A record's earlier human labels for the facet are replaced, so importing a file twice changes nothing.
    """
    rows = read_review(path)
    checked = check_rows(rows, taxonomy, _known_ids(store, (r.record_id for r in rows)), labeller)
    ensure_table(store)
    when = at or datetime.now(UTC).isoformat(timespec="seconds")
    with store.transaction() as conn:
        for (record_id, facet), (paths, who) in checked.accepted.items():
            conn.execute("DELETE FROM human_labels WHERE record_id = ? AND facet = ?", (record_id, facet))
            conn.executemany(
                "INSERT INTO human_labels(record_id, facet, label, labeller, at, file) VALUES (?, ?, ?, ?, ?, ?)",
                [(record_id, facet, p, who, when, path.name) for p in paths],
            )
    report = ImportReport(len(rows), len(checked.accepted), checked.skipped_empty, checked.rejected)
    logger.info("review import %s: %d stored, %d empty, %d rejected", path.name, report.stored, report.skipped_empty, len(report.rejected))
    return report


# -- training data ------------------------------------------------------------------------------


def reviewed_data(store: ReviewStore, facet: str, *, multi_label: bool | None = None) -> LabelledData:
    """The human labels of a facet as training data: the record's masked customer text and its label paths.

    The text is ``Record.customer_text()``, what classifiers see when labelling, so a model trained on
    it meets the same kind of text once attached. ``multi_label`` defaults to whether any record has
    several labels; pass the facet's own setting when the taxonomy is at hand. Raises E210 with fewer
    than two distinct labels, as ``load_labelled`` does.
    """
    ensure_table(store)
    rows = store.conn.execute(
        "SELECT h.record_id, h.label, r.body FROM human_labels h JOIN records r ON r.id = h.record_id "
        "WHERE h.facet = ? ORDER BY h.record_id, h.label",
        (facet,),
    )
    grouped: dict[str, tuple[str, list[str]]] = {}
    for row in rows:
        if row[0] not in grouped:
            grouped[row[0]] = (Record.model_validate_json(row[2]).customer_text(), [])
        grouped[row[0]][1].append(str(row[1]))
    texts = [text for text, _ in grouped.values()]
    labels = [labs for _, labs in grouped.values()]
    digest = hashlib.sha256()
    for text, labs in zip(texts, labels, strict=True):  # hashed as training/data.py does: same rows, same hash
        digest.update(f"{text}\x1f{'|'.join(labs)}\x1e".encode())
    source = f"human_labels:{facet}"
    if len({lab for labs in labels for lab in labs}) < 2:
        raise NLPError(
            ErrorCode.E210,
            path=source,
            reason=f"{len(texts)} reviewed records with fewer than 2 labels",
            fix=f"Review more records: `radar review export --facet {facet}`, then `radar review import FILE`.",
        )
    multi = multi_label if multi_label is not None else any(len(labs) > 1 for labs in labels)
    return LabelledData(texts, labels, multi, digest.hexdigest()[:16], source)
