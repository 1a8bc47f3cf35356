"""The ``radar`` command line. Human output by default; ``--json`` prints one JSON document."""

from __future__ import annotations

import hashlib
import logging
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from api.cli_common import DbOption, JsonOption, coded, store_location
from api.cli_common import open_store as _open_store
from api.cli_common import settings_for as _settings
from api.credit_cli import credit_app, triage_app
from api.demand_cli import register as register_demand
from api.embedder_cli import register as register_embedder
from api.output import out_console, print_json, progress_bar
from api.review_cli import register as register_review
from api.serve_cli import register as register_serve
from radar.errors import APIError, ErrorCode, SearchError
from radar.settings import Settings, get_settings

__all__ = ["app", "main"]

logger = logging.getLogger(__name__)

app = typer.Typer(
    name="radar",
    help="Demand Radar (需求雷达): Chinese customer feedback in, labelled and searchable demand out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
taxonomy_app = typer.Typer(help="Validate, show, diff and export taxonomy versions.", no_args_is_help=True)
app.add_typer(taxonomy_app, name="taxonomy")
index_app = typer.Typer(help="Check, repair and rebuild the search index against the store.", no_args_is_help=True)
app.add_typer(index_app, name="index")
models_app = typer.Typer(help="The model registry: list, show, promote, attach to a facet.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(credit_app, name="credit")
app.add_typer(triage_app, name="triage")
register_demand(app)
register_serve(app)
register_review(app)
register_embedder(app)

# -- demo -----------------------------------------------------------------------------------------


@app.command()
@coded
def demo(
    db: DbOption = None,
    data: Annotated[Path | None, typer.Option(help="Folder for the generated sample (default: beside the store).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic sample.")] = 20261124,
    as_json: JsonOption = False,
) -> None:
    """The main job: generate the SYNTHETIC sample, ingest, label, index, and summarise."""
    from api.pipeline import Components, index_store, ingest_sample, label_store
    from ingestion.sample import SampleSpec, generate_samples
    from insights.summary import summarize

    settings = _settings(db)
    if settings.store_url is not None:  # the demo ends in the embedded index, insights and a summary: SQLite only
        raise SearchError(ErrorCode.E307, feature="radar demo", store=store_location(settings))
    sample_dir = data or settings.db.resolve().parent / "demo-data"
    started = time.perf_counter()
    timings: dict[str, float] = {}
    generate_samples(sample_dir, SampleSpec(seed=seed))
    timings["generate"] = time.perf_counter() - started
    components = Components.build(settings)
    with _open_store(settings) as store:
        t = time.perf_counter()
        with progress_bar("ingest", None, enabled=not as_json) as advance:
            reports = ingest_sample(store, sample_dir, settings, on_progress=advance)
        timings["ingest"] = time.perf_counter() - t
        t = time.perf_counter()
        with progress_bar("label", store.count(), enabled=not as_json) as advance:
            label_store(store, components, batch=settings.batch_size, on_progress=advance)
        timings["label"] = time.perf_counter() - t
        t = time.perf_counter()
        with progress_bar("index", store.count(), enabled=not as_json) as advance:
            index_store(store, components, on_progress=advance)
        timings["index"] = time.perf_counter() - t
        t = time.perf_counter()
        credit = _grade(store)
        timings["grade"] = time.perf_counter() - t
        t = time.perf_counter()
        proposals = _proposals(store, components, settings)
        timings["proposals"] = time.perf_counter() - t
        summary = summarize(store)
        searches = [_demo_search(store, components, "流量 扣费", []), _demo_search(store, components, "营业厅", [("intent", "投诉")])]
    timings["total"] = time.perf_counter() - started
    document = {
        "records": summary.records,
        "labels": summary.labels,
        "searches": searches,
        "needs_review": summary.needs_review,
        "credit_grades": credit["grade_counts"],
        "proposals": proposals,
        "open_complaints": credit["open_complaints"],
        "quarantined": summary.quarantined,
        "top_themes": summary.top_themes,
        "ingest": {source: r.to_dict() for source, r in reports.items()},
        "db": str(settings.db),
        "seconds": {k: round(v, 2) for k, v in timings.items()},
    }
    if as_json:
        print_json(document)
        return
    _print_summary(document)


def _proposals(store: Any, components: Any, settings: Settings) -> list[dict[str, Any]]:
    """Demand proposals from the labelled sample: the top three, for the summary."""
    from insights.demand.config import load_proposal_config
    from insights.demand.service import build_proposals, list_proposals
    from nlp.embedders import CachedEmbedder
    from nlp.stopwords import load_stopwords

    build_proposals(
        store,
        tokenizer=components.tokenizer,
        taxonomy=components.taxonomy,
        config=load_proposal_config(),
        stopwords=load_stopwords(settings.shared_data / "stopwords"),
        idf=components.backend(store, semantic=False).idf,
        embedder=CachedEmbedder(components.embedder, store) if settings.semantic else None,
    )
    keys = ("id", "title", "size", "department", "tier", "priority")
    return [{k: p[k] for k in keys} for p in list_proposals(store, limit=3)]


def _grade(store: Any) -> dict[str, Any]:
    """Complaint credit grades for customers with new records, and their triage items (incremental)."""
    from insights.credit.scorecard import load_scorecard
    from insights.credit.service import grade_store

    return grade_store(store, load_scorecard()).to_dict()


def _demo_search(store: Any, components: Any, query: str, filters: list[tuple[str, str]]) -> dict[str, Any]:
    from search.backends.base import SearchRequest

    response = components.backend(store).search(SearchRequest(query=query, filters=filters, limit=3))
    return {"query": query, "filters": [f"{k}={v}" for k, v in filters], **_response_json(response)}


def _print_summary(doc: dict[str, Any]) -> None:
    out_console.rule("[bold]需求雷达 Demand Radar — demo on SYNTHETIC sample data")
    table = Table(title="Records per source", show_header=True)
    table.add_column("source")
    table.add_column("records", justify="right")
    table.add_column("read / ingested / updated / duplicates / quarantined")
    for source, n in doc["records"].items():
        r = doc["ingest"][source]
        table.add_row(source, str(n), f"{r['read']} / {r['ingested']} / {r['updated']} / {r['duplicates']} / {r['quarantined']}")
    out_console.print(table)
    for facet in ("demand_category", "complaint_type", "intent", "sentiment"):
        counts = doc["labels"].get(facet, {})
        t = Table(title=f"Labels: {facet}")
        t.add_column("label")
        t.add_column("records", justify="right")
        for label, n in list(counts.items())[:14]:
            t.add_row(label, str(n))
        out_console.print(t)
    themes = Table(title="Top demand themes (sub-labels; proposals come with the insights issue)")
    for col in ("theme", "records", "negative share", "regions"):
        themes.add_column(col)
    for th in doc["top_themes"]:
        themes.add_row(str(th["theme"]), str(th["records"]), f"{th['negative_share']:.0%}", str(th["regions"]))
    out_console.print(themes)
    for s in doc["searches"]:
        _print_search(s, title=f"Search: {s['query']} {' '.join(s['filters'])}")
    out_console.print(f"needs review: {doc['needs_review']} records · quarantined rows: {doc['quarantined']} · store: {doc['db']}")
    for p in doc["proposals"]:
        out_console.print(
            f"proposal {p['id']} ({p['size']} records, {p['department']} · {p['tier']}, priority {p['priority']:.2f}): {p['title']}"
        )
    grades = ", ".join(f"{g} {n}" for g, n in doc["credit_grades"].items())
    out_console.print(f"complaint credit grades: {grades} · open complaints in the triage queue: {doc['open_complaints']} (radar triage)")
    out_console.print("timings (s): " + ", ".join(f"{k} {v}" for k, v in doc["seconds"].items()))


# -- ingest / label / index -------------------------------------------------------------------------


@app.command()
@coded
def ingest(
    source: Annotated[str | None, typer.Argument(help="forum | calls | tickets | forms")] = None,
    path_or_url: Annotated[str | None, typer.Argument(help="A file, a folder of files, or (forum) the API base URL.")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="sources.yaml: several sources, each with its own cursor.")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="calls: jsonl | sep | text (guessed from the suffix).")] = None,
    encoding: Annotated[str | None, typer.Option(help="Force an encoding (default: UTF-8, GB18030, Big5 detected).")] = None,
    since: Annotated[str | None, typer.Option(help="Only items created at or after this time (ISO 8601).")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Ingest a source: normalise, mask personal data, deduplicate, upsert; bad rows are quarantined."""
    from ingestion.convert import ConvertOptions
    from ingestion.pipeline import IngestReport, ingest_path
    from ingestion.sources import ingest_config, ingest_forum_api, load_sources_config

    settings = _settings(db)
    opts = ConvertOptions.from_settings(settings)
    if config is None and (source is None or path_or_url is None):
        raise APIError(ErrorCode.E501, reason="give SOURCE and PATH_OR_URL, or --config FILE", command="ingest")
    reports: dict[str, IngestReport] = {}
    with _open_store(settings) as store, progress_bar("ingest", None, enabled=not as_json) as advance:
        if config is not None:
            reports = ingest_config(load_sources_config(config), store, opts, batch_size=settings.batch_size, on_progress=advance)
        elif path_or_url is not None and path_or_url.startswith(("http://", "https://")):
            if source != "forum":
                raise APIError(ErrorCode.E501, reason="an HTTP API is supported for the forum source", command="ingest")
            reports["forum"] = ingest_forum_api(path_or_url, store, opts, since=since, batch_size=settings.batch_size, on_progress=advance)
        else:
            assert source is not None and path_or_url is not None
            reports[source] = ingest_path(
                source,
                Path(path_or_url),
                store,
                opts,
                fmt=fmt,
                encoding=encoding,
                workers=settings.workers,
                since=since,
                batch_size=settings.batch_size,
                on_progress=advance,
            )
    total = IngestReport()
    for report in reports.values():
        total.add(report)
    doc = total.to_dict()
    if config is not None:
        doc["sources"] = {name: r.to_dict() for name, r in reports.items()}
    print_json(doc) if as_json else out_console.print(doc)


@app.command()
@coded
def label(
    db: DbOption = None,
    backfill: Annotated[bool, typer.Option(help="Also re-label records labelled by another taxonomy or model version.")] = False,
    relabel_all: Annotated[bool, typer.Option("--all", help="Re-label every record.")] = False,
    zero_shot: Annotated[bool | None, typer.Option(help="Zero-shot backup where rules are unsure (default: RADAR_ZERO_SHOT).")] = None,
    taxonomy: Annotated[Path | None, typer.Option(help="Taxonomy YAML (default: the bundled one).")] = None,
    entities: Annotated[bool, typer.Option(help="Extract entities (products, amounts, places...) into the store.")] = True,
    workers: Annotated[
        int, typer.Option(min=1, help="Processes labelling batches in parallel (rules and models; zero-shot runs in one).")
    ] = 1,
    as_json: JsonOption = False,
) -> None:
    """Label new and changed records in the store, then bring the search index up to date.

    Each batch commits on its own: after a crash or Ctrl-C, running it again labels only what is left."""
    from api.pipeline import Components, label_store
    from api.taxonomies import active_taxonomy
    from search.stores import is_sqlite
    from taxonomy.loader import load_taxonomy

    settings = _settings(db)
    skipped: dict[str, str] = {}
    with _open_store(settings) as store:
        sqlite = is_sqlite(store)
        # an explicit file wins; otherwise the version activated over the API (SQLite only), else the configured one
        chosen = load_taxonomy(taxonomy or settings.taxonomy) if taxonomy or not sqlite else active_taxonomy(store, settings)
        components = Components.build(settings, taxonomy=chosen)
        with progress_bar("label", store.count(), enabled=not as_json) as advance:
            mode = "all" if relabel_all else "backfill" if backfill else "changed"
            report = label_store(
                store,
                components,
                mode=mode,
                zero_shot=zero_shot,
                entities=entities,
                batch=settings.batch_size,
                on_progress=advance,
                workers=workers,
            )
        indexed, credit = _index_and_grade(store, components, settings, sqlite, skipped)
    doc = {
        "records": report.records,
        "labels": report.labels,
        "needs_review": report.needs_review,
        "docs_per_s": round(report.docs_per_s, 1),
        "indexed": indexed,
        "credit": {k: credit[k] for k in ("customers_graded", "grades_changed", "open_complaints", "grade_counts")} if credit else None,
        "taxonomy_version": components.taxonomy.version,
    }
    if skipped:
        doc["skipped"] = skipped
    print_json(doc) if as_json else out_console.print(doc)


def _index_and_grade(
    store: Any, components: Any, settings: Settings, sqlite: bool, skipped: dict[str, str]
) -> tuple[int | None, dict[str, Any] | None]:
    """After labelling: the search index and credit grades. On a PostgreSQL store the index is
    Elasticsearch's or none, and grading (SQLite-only insights) is left out, said in ``skipped``."""
    from api.pipeline import index_store

    indexed = None
    if sqlite or settings.search_backend == "elasticsearch":
        indexed = index_store(store, components)
    else:
        skipped["index"] = "the embedded index needs a SQLite store; set RADAR_SEARCH_BACKEND=elasticsearch and RADAR_ES_URL"
    if not sqlite:
        skipped["credit"] = "complaint credit grading runs on a SQLite store only"
        return indexed, None
    return indexed, _grade(store)


@app.command("label-file")
@coded
def label_file_cmd(
    src: Annotated[Path, typer.Argument(help="CSV, TSV, XLSX or JSONL input.")],
    dst: Annotated[Path, typer.Argument(help="JSONL output.")],
    text_col: Annotated[str, typer.Option(help="Column holding the text.")] = "text",
    taxonomy: Annotated[Path | None, typer.Option(help="Taxonomy YAML (default: the bundled one).")] = None,
    encoding: Annotated[str | None, typer.Option(help="Force the input encoding.")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Processes labelling in parallel (output keeps the input order).")] = 1,
    entities: Annotated[bool, typer.Option(help="Also write spaCy entities (amounts, volumes, places...) per row; slower.")] = False,
    model: Annotated[list[Path], typer.Option("--model", help="A trained model (radar train) that labels its facet; repeatable.")] = [],  # noqa: B006
    model_facet: Annotated[str | None, typer.Option(help="The facet name for a single --model (default: its card's facet).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue an interrupted run from its checkpoint (DST.checkpoint).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Label a file into JSONL: each input row plus labels and needs_review, streamed and resumable."""
    from api.label_file import FileModel, label_file
    from api.pipeline import Components
    from taxonomy.entities import entity_extractor

    settings = get_settings()
    components = Components.build(settings, taxonomy)
    extractor = entity_extractor(components.taxonomy) if entities else None
    if model_facet and len(model) != 1:
        raise APIError(ErrorCode.E501, reason="--model-facet names the facet of exactly one --model", command="label-file")
    models = [FileModel(m, model_facet, settings.review_threshold) for m in model]
    with progress_bar("label-file", None, enabled=not as_json) as advance:
        report = label_file(
            src,
            dst,
            components.labeler,
            text_col=text_col,
            encoding=encoding,
            workers=workers,
            entities=extractor,
            on_progress=advance,
            resume=resume,
            models=models,
        )
    print_json(report.to_dict()) if as_json else out_console.print(report.to_dict())


@app.command("entities")
@coded
def entities_cmd(
    text: Annotated[str, typer.Argument(help="Text to analyse.")],
    taxonomy: Annotated[Path | None, typer.Option(help="Taxonomy YAML (default: the bundled one).")] = None,
    keywords: Annotated[int, typer.Option(help="Also list this many TextRank keywords.")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Entities (products, brands, channels, departments, places, amounts, volumes, dates) in a text."""
    from api.pipeline import Components

    components = Components.build(get_settings(), taxonomy)
    found = [e.to_dict() for e in components.entities.run(text)]
    doc: dict[str, Any] = {"text": text, "entities": found, "dictionary": components.tokenizer.version}
    if keywords:
        from nlp.keywords import textrank

        doc["keywords"] = [{"word": w, "score": round(s, 4)} for w, s in textrank(components.tokenizer.words(text), top=keywords)]
    if as_json:
        print_json(doc)
        return
    for e in found:
        out_console.print(f"{e['label']:12} {e['text']:16} {e['value']}  [{e['start']}:{e['end']}]")
    for k in doc.get("keywords", []):
        out_console.print(f"keyword      {k['word']:16} {k['score']}")


# -- search -----------------------------------------------------------------------------------------


FILTER_FACETS = "demand_category, complaint_type, intent, sentiment, product, brand, channel, source, region, escalation, needs_review"


def _parse_filters(values: list[str]) -> list[tuple[str, str]]:
    out = []
    for value in values:
        facet, sep, label_value = value.partition("=")
        if not sep or not facet.strip() or not label_value.strip():
            raise APIError(
                ErrorCode.E303,
                value=value,
                options=FILTER_FACETS,
            )
        out.append((facet.strip(), label_value.strip()))
    return out


def _response_json(response: Any) -> dict[str, Any]:
    return {
        "total": response.total,
        "hits": [
            {
                "id": h.record.id,
                "source": h.record.source.value,
                "text": h.record.text,
                "labels": {f: [lab.label for lab in labs] for f, labs in h.record.labels.items()},
                "score": h.score,
                "highlights": [list(span) for span in h.highlights],
                "duplicates": h.duplicates,
            }
            for h in response.hits
        ],
        "facets": response.facets,
        "next_cursor": response.next_cursor,
    }


def _print_search(doc: dict[str, Any], title: str) -> None:
    table = Table(title=f"{title} — {doc['total']} hits", show_lines=True, expand=True)
    table.add_column("id", no_wrap=True)
    table.add_column("text", ratio=3, overflow="fold")
    table.add_column("labels", ratio=2, overflow="fold")
    for hit in doc["hits"]:
        text = hit["text"].replace("\n", " ")
        for start, end in reversed(hit["highlights"]):
            text = text[:start] + "[bold yellow]" + text[start:end] + "[/]" + text[end:] if end <= len(text) else text
        labels = "; ".join(
            f"{f}: {', '.join(v)}" for f, v in hit["labels"].items() if f in ("demand_category", "complaint_type", "intent", "sentiment")
        )
        table.add_row(hit["id"], text[:160], labels)
    out_console.print(table)


@app.command()
@coded
def search(
    query: Annotated[str, typer.Argument(help='Words, "phrases", -exclude, facet:value, OR.')] = "",
    filters: Annotated[list[str] | None, typer.Option("--filter", help="facet=value; repeat for more.")] = None,
    since: Annotated[datetime | None, typer.Option(help="Only records created at or after this time.")] = None,
    until: Annotated[datetime | None, typer.Option(help="Only records created before this time.")] = None,
    limit: Annotated[int, typer.Option(min=0, max=1000)] = 10,
    cursor: Annotated[str | None, typer.Option(help="next_cursor from the previous page.")] = None,
    order: Annotated[str, typer.Option(help="relevance | time")] = "relevance",
    mode: Annotated[str | None, typer.Option(help="keyword | semantic | hybrid (default: hybrid when RADAR_SEMANTIC)")] = None,
    like: Annotated[str | None, typer.Option(help="More like this record id.")] = None,
    export: Annotated[Path | None, typer.Option(help="Write every hit (all pages) to a .csv or .xlsx file.")] = None,
    collapse: Annotated[bool, typer.Option(help="Near duplicates as one hit, counted in its `duplicates`.")] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Search the labelled store, with facet counts over the same filtered results."""
    from api.pipeline import Components
    from search.backends.base import SearchRequest

    settings = _settings(db)
    parsed_filters = _parse_filters(filters or [])
    if mode not in (None, "keyword", "semantic", "hybrid"):
        raise APIError(ErrorCode.E501, reason=f"--mode must be keyword, semantic or hybrid, not {mode!r}", command="search")
    if order not in ("relevance", "time"):
        raise APIError(ErrorCode.E501, reason=f"--order must be relevance or time, not {order!r}", command="search")
    if not settings.db.exists():
        raise APIError(ErrorCode.E501, reason=f"no store at {settings.db}; run `radar demo` or `radar ingest` first", command="search")
    components = Components.build(settings)
    request = SearchRequest(
        query=query, filters=parsed_filters, since=since, until=until, limit=limit, cursor=cursor, order=order, mode=mode, like=like,
        collapse=collapse,
    )
    with _open_store(settings) as store:
        backend = components.backend(store)
        doc = _response_json(backend.search(request))
        if export is not None:
            from api.export import export_results

            doc["exported"] = {"path": str(export), "rows": export_results(backend, request, export)}
    if as_json:
        print_json(doc)
        return
    _print_search(doc, title=f"Search: {query}")
    for facet, counts in doc["facets"].items():
        if counts:
            out_console.print(f"[bold]{facet}[/]: " + ", ".join(f"{k} ({v})" for k, v in list(counts.items())[:8]))


# -- taxonomy ---------------------------------------------------------------------------------------


@taxonomy_app.command("validate")
@coded
def taxonomy_validate(
    path: Annotated[Path | None, typer.Argument(help="Taxonomy YAML (default: bundled).")] = None, as_json: JsonOption = False
) -> None:
    """Validate a taxonomy file; errors carry E2xx codes."""
    from taxonomy.loader import load_taxonomy

    tax = load_taxonomy(path)
    doc = {"valid": True, "version": tax.version, "fingerprint": tax.fingerprint, "facets": {f.name: len(f.labels) for f in tax.facets}}
    print_json(doc) if as_json else out_console.print(doc)


@taxonomy_app.command("show")
@coded
def taxonomy_show(
    path: Annotated[Path | None, typer.Argument()] = None,
    facet: Annotated[str | None, typer.Option(help="Only this facet.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Show the label tree with departments and keywords."""
    from taxonomy.loader import load_taxonomy

    tax = load_taxonomy(path)
    facets = [tax.facet(facet)] if facet else tax.facets
    if as_json:
        print_json(
            {
                "version": tax.version,
                "facets": {
                    f.name: [
                        {"id": lab.id, "path": f.path(lab.id), "department": lab.department, "keywords": lab.keywords} for lab in f.labels
                    ]
                    for f in facets
                },
            }
        )
        return
    for f in facets:
        table = Table(title=f"{f.name} ({'multi' if f.multi_label else 'single'}-label) — {tax.version}")
        for col in ("path", "id", "department", "keywords"):
            table.add_column(col)
        for lab in f.labels:
            table.add_row(f.path(lab.id), lab.id, lab.department or "", "、".join(lab.keywords[:8]))
        out_console.print(table)


@taxonomy_app.command("export")
@coded
def taxonomy_export(
    path: Annotated[Path | None, typer.Argument()] = None,
    dictionary: Annotated[bool, typer.Option(help="Export the jieba user dictionary instead.")] = False,
) -> None:
    """Export the taxonomy as JSON, or its tokenizer dictionary."""
    from nlp.dictionary import TelecomDictionary
    from taxonomy.loader import load_taxonomy

    tax = load_taxonomy(path)
    if dictionary:
        sys.stdout.write(TelecomDictionary.build(tax.dictionary_terms(), tax.synonyms).to_jieba_userdict())
    else:
        print_json(tax.model_dump(mode="json"))


@taxonomy_app.command("diff")
@coded
def taxonomy_diff(old: Annotated[Path, typer.Argument()], new: Annotated[Path, typer.Argument()], as_json: JsonOption = False) -> None:
    """Labels added, retired and changed between two taxonomy files."""
    from taxonomy.loader import load_taxonomy
    from taxonomy.versioning import diff_taxonomies

    doc = diff_taxonomies(load_taxonomy(old), load_taxonomy(new))
    print_json(doc) if as_json else out_console.print(doc)


@index_app.command("check")
@coded
def index_check(
    db: DbOption = None,
    repair: Annotated[bool, typer.Option(help="Fix what differs.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Report (and with --repair fix) records missing from the index, stale entries and orphans."""
    from api.pipeline import Components

    settings = _settings(db)
    with _open_store(settings) as store:
        backend = Components.build(settings).backend(store)
        found = {k: len(v) for k, v in backend.check().items()}
        doc: dict[str, Any] = {"differences": found, "in_sync": not any(found.values())}
        if repair and not doc["in_sync"]:
            doc["repaired"] = backend.repair()
            doc["in_sync"] = not any(backend.check().values())
    print_json(doc) if as_json else out_console.print(doc)


@index_app.command("rebuild")
@coded
def index_rebuild(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Rebuild the whole index from the store (after a dictionary change, or to be sure)."""
    from api.pipeline import Components

    settings = _settings(db)
    with _open_store(settings) as store:
        indexed = Components.build(settings).backend(store).rebuild()
    print_json({"indexed": indexed}) if as_json else out_console.print(f"indexed {indexed} records")


@models_app.command("list")
@coded
def models_list(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Registered models with their facet, held-out macro-F1 and flags."""
    with _open_store(_settings(db)) as store:
        rows = [_model_doc(m) for m in store.models()]
    if as_json:
        print_json({"models": rows})
        return
    table = Table(title="Models")
    for col in ("id", "name", "facet", "type", "macro-F1 (held out)", "promoted", "attached"):
        table.add_column(col)
    for m in rows:
        table.add_row(
            str(m["id"]),
            m["name"],
            m["facet"] or "",
            m["card"]["model_type"],
            f"{m['card']['held_out_metrics']['macro_f1']:.3f}",
            "yes" if m["promoted"] else "",
            "yes" if m["attached"] else "",
        )
    out_console.print(table)


def _model_doc(row: Any) -> dict[str, Any]:
    import json

    return {
        "id": row["id"],
        "name": row["name"],
        "path": row["path"],
        "facet": row["facet"],
        "promoted": bool(row["promoted"]),
        "attached": bool(row["attached"]),
        "created_at": row["created_at"],
        "card": json.loads(row["card"]),
    }


@models_app.command("show")
@coded
def models_show(model_id: Annotated[int, typer.Argument()], db: DbOption = None, as_json: JsonOption = False) -> None:
    """One model and its card."""
    with _open_store(_settings(db)) as store:
        doc = _model_doc(store.model(model_id))
    print_json(doc) if as_json else out_console.print(doc)


@models_app.command("promote")
@coded
def models_promote(model_id: Annotated[int, typer.Argument()], db: DbOption = None, as_json: JsonOption = False) -> None:
    """Mark a model as the chosen one for its facet (one per facet)."""
    with _open_store(_settings(db)) as store:
        store.set_model_flag(model_id, "promoted")
        doc = _model_doc(store.model(model_id))
    print_json(doc) if as_json else out_console.print(f"model {model_id} promoted for {doc['facet']}")


@models_app.command("attach")
@coded
def models_attach(
    model_id: Annotated[int, typer.Argument()],
    facet: Annotated[str, typer.Option(help="The facet whose labels the model proposes.")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Let a model take part in the ensemble for a facet; `radar label --backfill` re-labels with it."""
    from taxonomy.loader import load_taxonomy

    settings = _settings(db)
    load_taxonomy(settings.taxonomy).facet(facet)  # E204 for an unknown facet
    with _open_store(settings) as store:
        store.set_model_flag(model_id, "attached", facet)
        doc = _model_doc(store.model(model_id))
    print_json(doc) if as_json else out_console.print(f"model {model_id} attached to {facet}; run `radar label --backfill`")


def _dictionary(taxonomy_path: Path | None) -> Any:
    from nlp.dictionary import TelecomDictionary
    from taxonomy.loader import load_taxonomy

    tax = load_taxonomy(taxonomy_path or get_settings().taxonomy)
    return TelecomDictionary.build(tax.dictionary_terms(), tax.synonyms), tax.version


def _training_data(data: Path | None, from_review: str | None, text_col: str, label_col: str, sep: str | None, db: str | None) -> Any:
    """Rows of a file, the human labels imported for a facet, or both together."""
    from api.taxonomies import active_taxonomy
    from training.data import LabelledData, load_labelled
    from training.review import reviewed_data

    if data is None and from_review is None:
        raise APIError(ErrorCode.E501, reason="give --data FILE, --from-review FACET, or both", command="train")
    parts: list[LabelledData] = []
    if data is not None:
        parts.append(load_labelled(data, text_col, label_col, multi_label_sep=sep))
    if from_review is not None:
        settings = _settings(db)
        with _open_store(settings) as store:
            facet = active_taxonomy(store, settings).facet(from_review)
            parts.append(reviewed_data(store, from_review, multi_label=facet.multi_label))
    if len(parts) == 1:
        return parts[0]
    first, second = parts
    return LabelledData(
        first.texts + second.texts,
        first.labels + second.labels,
        first.multi_label or second.multi_label,
        hashlib.sha256((first.data_hash + second.data_hash).encode()).hexdigest()[:16],
        f"{first.source} + {second.source}",
    )


def _model_options(base_model: Path | None, epochs: int) -> Any:
    from training.models import ModelOptions

    settings = get_settings()
    return ModelOptions(embedder_spec=settings.embedder, embed_max_chars=settings.embed_max_chars, base_model=base_model, epochs=epochs)


def _print_metrics(result: dict[str, Any], title: str) -> None:
    table = Table(
        title=f"{title}: n={result['n']} macro-F1 {result['macro_f1']:.3f} micro-F1 {result['micro_f1']:.3f} "
        f"accuracy {result['accuracy']:.3f}"
    )
    for col in ("label", "precision", "recall", "f1", "support"):
        table.add_column(col, justify="left" if col == "label" else "right")
    for label, m in result["per_label"].items():
        table.add_row(label, f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}", str(m["support"]))
    out_console.print(table)


@app.command()
@coded
def train(
    out: Annotated[Path, typer.Option("--out", help="Directory for the model and its model card.")],
    data: Annotated[Path | None, typer.Option("--data", help="CSV (any encoding), XLSX or JSONL with texts and labels.")] = None,
    from_review: Annotated[
        str | None, typer.Option(help="Train on the human labels of this facet imported with `radar review import` (with --data: both).")
    ] = None,
    text_col: Annotated[str, typer.Option(help="Text column; join several with + (标题+内容).")] = "text",
    label_col: Annotated[str, typer.Option(help="Label column.")] = "label",
    multi_label_sep: Annotated[str | None, typer.Option(help="Separator of several labels in one cell.")] = None,
    model: Annotated[str, typer.Option("--model", help="linear | embedding | transformer | auto | baseline")] = "linear",
    facet: Annotated[str | None, typer.Option(help="The taxonomy facet this model labels.")] = None,
    seed: Annotated[int, typer.Option(help="Seed: same data and seed, same model and metrics.")] = 13,
    balanced: Annotated[bool, typer.Option(help="Weight classes inversely to their frequency (linear).")] = False,
    base_model: Annotated[Path | None, typer.Option(help="transformer: a local model directory to fine-tune.")] = None,
    epochs: Annotated[int, typer.Option(min=1, help="transformer: passes over the data.")] = 3,
    taxonomy: Annotated[Path | None, typer.Option(help="Taxonomy whose dictionary the tokenizer uses.")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Train a classifier on your own labels; a held-out part is scored, then it refits on all.

    The model is registered in the store (`radar models list`); `radar models attach` puts it to work.
    """
    from training.train import train_model

    dictionary, tax_version = _dictionary(taxonomy)
    labelled = _training_data(data, from_review, text_col, label_col, multi_label_sep, db)
    facet = facet or from_review
    result = train_model(
        labelled,
        model,
        dictionary,
        out,
        facet=facet,
        taxonomy_version=tax_version,
        seed=seed,
        class_weight="balanced" if balanced else None,
        options=_model_options(base_model, epochs),
    )
    with _open_store(_settings(db)) as store:
        model_id = store.register_model(str(out.resolve()), facet, result.card)
    if as_json:
        print_json({"id": model_id, "out": str(out), "card": result.card, "held_out": result.held_out})
        return
    chosen = result.card["model_type"]
    if "auto" in result.card["settings"]:
        out_console.print(f"auto chose {chosen}: {result.card['settings']['auto']['why']}")
    _print_metrics(result.held_out, f"held-out part ({chosen})")
    out_console.print(f"model and card written to {out}")


@app.command("eval")
@coded
def eval_cmd(
    data: Annotated[Path, typer.Option("--data", help="Labelled CSV/XLSX/JSONL.")],
    model_dir: Annotated[Path | None, typer.Option("--model", help="A trained model directory.")] = None,
    cv: Annotated[int | None, typer.Option("--cv", min=2, help="k-fold cross-validation instead of a trained model.")] = None,
    model_type: Annotated[str, typer.Option(help="With --cv: linear | embedding | transformer | baseline")] = "linear",
    base_model: Annotated[Path | None, typer.Option(help="With --cv and transformer: a local model directory.")] = None,
    text_col: Annotated[str, typer.Option(help="Text column; join several with +.")] = "text",
    label_col: Annotated[str, typer.Option(help="Label column.")] = "label",
    multi_label_sep: Annotated[str | None, typer.Option(help="Separator of several labels in one cell.")] = None,
    png: Annotated[Path, typer.Option(help="Where the confusion-matrix picture goes (without --json).")] = Path("confusion.png"),
    seed: Annotated[int, typer.Option()] = 13,
    as_json: JsonOption = False,
) -> None:
    """Evaluate a trained model on labelled data, or cross-validate a model type when no split exists."""
    from training.data import load_labelled
    from training.evaluate import confusion_png, cross_validate, metrics
    from training.store import load_model

    if (model_dir is None) == (cv is None):
        raise APIError(ErrorCode.E501, reason="give exactly one of --model DIR or --cv K", command="eval")
    labelled = load_labelled(data, text_col, label_col, multi_label_sep=multi_label_sep)
    if model_dir is not None:
        trained, _ = load_model(model_dir)
        result = metrics(labelled.labels, trained.predict(labelled.texts))
        title = f"{model_dir.name} on {data.name}"
    else:
        dictionary, _ = _dictionary(None)
        result = cross_validate(labelled, model_type, dictionary, k=cv or 5, seed=seed, options=_model_options(base_model, 3))
        title = f"{cv}-fold CV, {model_type}, {data.name}"
    if as_json:
        print_json(result)
        return
    _print_metrics(result, title)
    out_console.print(f"confusion matrix: {confusion_png(result, png, title)}")


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    app()
