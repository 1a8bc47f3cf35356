"""``radar proposals``, ``radar trends``, ``radar report`` and ``radar searches``: from feedback to
demand proposals (需求提案), their workflow, trends and the periodic report."""

from __future__ import annotations

import getpass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from api.cli_common import DbOption, JsonOption, coded, open_store, settings_for
from api.output import out_console, print_json
from radar.errors import APIError, ErrorCode

__all__ = ["proposals_app", "register", "searches_app"]

proposals_app = typer.Typer(
    help="Demand proposals (需求提案): build drafts from clustered demand, list, show, move through the workflow.", no_args_is_help=True
)
searches_app = typer.Typer(help="Saved searches, and rules made from them that tag and count new records.", no_args_is_help=True)

ConfigOption = Annotated[Path | None, typer.Option("--config", help="Proposal configuration YAML (default: the bundled one).")]


def _components(db: str | None) -> Any:
    from api.pipeline import Components

    return Components.build(settings_for(db))


@proposals_app.command("build")
@coded
def proposals_build(
    db: DbOption = None,
    config: ConfigOption = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Reference time for growth (ISO).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Judge new records (需求过滤), cluster new demands into themes, draft or refresh proposals, apply rules."""
    from insights.demand.config import load_proposal_config
    from insights.demand.rules import apply_rules
    from insights.demand.service import build_proposals
    from nlp.stopwords import load_stopwords

    settings = settings_for(db)
    components = _components(db)
    with open_store(settings) as store:
        backend = components.backend(store, semantic=False)
        report = build_proposals(
            store,
            tokenizer=components.tokenizer,
            taxonomy=components.taxonomy,
            config=load_proposal_config(config),
            stopwords=load_stopwords(settings.shared_data / "stopwords"),
            idf=backend.idf,
            embedder=_embedder(store, components, settings),
            as_of=datetime.fromisoformat(as_of) if as_of else None,
        )
        rules = apply_rules(store, backend)
    doc = {**report.to_dict(), "rule_matches": rules}
    print_json(doc) if as_json else out_console.print(doc)


def _embedder(store: Any, components: Any, settings: Any) -> Any:
    """The cached encoder when semantic search is on (records were embedded when indexed), else none."""
    if not settings.semantic:
        return None
    from nlp.embedders import CachedEmbedder

    return CachedEmbedder(components.embedder, store)


@proposals_app.command("list")
@coded
def proposals_list(
    db: DbOption = None,
    status: Annotated[str | None, typer.Option(help="Only proposals in this status.")] = None,
    limit: int = 20,
    as_json: JsonOption = False,
) -> None:
    """Proposals in priority order."""
    from insights.demand.service import list_proposals

    with open_store(settings_for(db)) as store:
        items = list_proposals(store, status=status, limit=limit)
    if as_json:
        print_json({"proposals": [_public(p) for p in items]})
        return
    table = Table("id", "priority", "size", "department", "tier", "status", "title", expand=True)
    table.columns[0].no_wrap = True
    for p in items:
        table.add_row(p["id"], f"{p['priority']:.2f}", str(p["size"]), p["department"], p["tier"], p["status"], p["title"])
    out_console.print(table)


def _public(p: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "id",
        "title",
        "summary",
        "keywords",
        "size",
        "status",
        "department",
        "tier",
        "tier_reason",
        "priority",
        "dimensions",
        "evidence",
        "assignee",
        "due",
        "cluster_id",
        "created_at",
        "updated_at",
        "history",
    )
    return {k: p[k] for k in keys if k in p}


@proposals_app.command("show")
@coded
def proposals_show(proposal_id: Annotated[str, typer.Argument()], db: DbOption = None, as_json: JsonOption = False) -> None:
    """One proposal with its evidence and its audit trail."""
    from insights.demand.service import get_proposal

    with open_store(settings_for(db)) as store:
        p = get_proposal(store, proposal_id)
    if as_json:
        print_json(_public(p))
        return
    out_console.print(f"[bold]{p['title']}[/]  ({p['id']}, {p['status']}, {p['department']} · {p['tier']}: {p['tier_reason']})")
    out_console.print(p["summary"])
    out_console.print({"priority": p["priority"], **p["dimensions"]})
    for q in p["evidence"]["quotes"]:
        out_console.print(f"  {q['record_id']}: {q['quote']}")
    for e in p["history"]:
        out_console.print(
            f"  [dim]{e['at']} {e['actor']} {e['action']} {e['from_status'] or ''}→{e['to_status'] or ''} {e['note'] or ''}[/]"
        )


@proposals_app.command("set-status")
@coded
def proposals_set_status(
    proposal_id: Annotated[str, typer.Argument()],
    status: Annotated[str | None, typer.Argument(help="draft, submitted, accepted, rejected, in_progress or done.")] = None,
    db: DbOption = None,
    note: Annotated[str, typer.Option(help="Feedback note for the audit trail.")] = "",
    assignee: Annotated[str | None, typer.Option()] = None,
    due: Annotated[str | None, typer.Option(help="Due date, YYYY-MM-DD.")] = None,
    department: Annotated[str | None, typer.Option(help="Re-route to 市场, 数据, 集客, 服务 or 网络 (teaches the routing).")] = None,
    actor: Annotated[str | None, typer.Option(help="Who (default: the OS user).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Move a proposal along the workflow, set assignee, due date or department; all audited."""
    from insights.demand.service import set_status
    from taxonomy.schema import DEPARTMENTS

    if department is not None and department not in DEPARTMENTS:
        raise APIError(
            ErrorCode.E501, reason=f"department '{department}' is not one of {', '.join(DEPARTMENTS)}", command="proposals set-status"
        )
    if due is not None:
        try:
            datetime.strptime(due, "%Y-%m-%d")
        except ValueError:
            raise APIError(ErrorCode.E501, reason=f"due '{due}' is not YYYY-MM-DD", command="proposals set-status") from None
    with open_store(settings_for(db)) as store:
        p = set_status(
            store, proposal_id, status, actor=actor or getpass.getuser(), note=note, assignee=assignee, due=due, department=department
        )
    print_json(_public(p)) if as_json else out_console.print({k: p[k] for k in ("id", "status", "department", "assignee", "due")})


def trends(
    db: DbOption = None,
    by: Annotated[
        str, typer.Option(help="demand_category, complaint_type, intent, product, channel, region, source or cluster.")
    ] = "demand_category",
    period: Annotated[str, typer.Option(help="day, week or month.")] = "week",
    since: Annotated[str | None, typer.Option(help="From this date (ISO).")] = None,
    until: Annotated[str | None, typer.Option(help="Before this date (ISO).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Volumes per label, cluster or region per period, and the emerging themes (stated test in --help of insights.demand.trends)."""
    from insights.demand.trends import BY, PERIODS, emerging, volumes

    if by not in BY or period not in PERIODS:
        raise APIError(ErrorCode.E501, reason=f"--by one of {', '.join(BY)}; --period one of {', '.join(PERIODS)}", command="trends")
    with open_store(settings_for(db)) as store:
        doc = volumes(store, by=by, period=period, since=since, until=until)
    doc["emerging"] = [e.to_dict() for e in emerging(doc["periods"], doc["series"])]
    if as_json:
        print_json(doc)
        return
    table = Table(by, *doc["periods"][-8:], title=f"{by} per {period} (last 8)")
    for key, counts in sorted(doc["series"].items(), key=lambda kv: -sum(kv[1]))[:20]:
        table.add_row(key, *(str(c) for c in counts[-8:]))
    out_console.print(table)
    for e in doc["emerging"]:
        out_console.print(f"[bold]emerging[/] {e['key']}: {e['count']} in {e['period']} vs {e['baseline']} (p={e['p_value']})")


def report(
    period: Annotated[str, typer.Option(help="The month, YYYY-MM.")],
    out: Annotated[Path, typer.Option(help="HTML file to write.")] = Path("report.html"),
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """The periodic demand-analysis report (用户需求分析报告) as one HTML file with charts."""
    from insights.demand.report import build_report

    with open_store(settings_for(db)) as store:
        doc = build_report(store, period, out)
    print_json(doc) if as_json else out_console.print(
        f"report for {period}: {doc['path']} ({doc['records']} records, {doc['proposals']} proposals)"
    )


@searches_app.command("save")
@coded
def searches_save(
    name: Annotated[str, typer.Argument()],
    query: Annotated[str, typer.Argument()],
    filters: Annotated[list[str] | None, typer.Option("--filter", help="facet=value, as in radar search.")] = None,
    rule: Annotated[bool, typer.Option("--rule", help="Make it a rule: tag and count matching records as they arrive.")] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Save a search (and optionally make it a rule)."""
    from insights.demand.rules import save_search

    pairs = []
    for f in filters or []:
        key, sep, value = f.partition("=")
        if not sep:
            raise APIError(ErrorCode.E501, reason=f"filter '{f}' is not facet=value", command="searches save")
        pairs.append((key.strip(), value.strip()))
    with open_store(settings_for(db)) as store:
        doc = save_search(store, name, query, pairs, rule=rule)
    print_json(doc) if as_json else out_console.print(doc)


@searches_app.command("list")
@coded
def searches_list(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Saved searches, with each rule's matches per month."""
    from insights.demand.rules import list_searches, rule_counts

    with open_store(settings_for(db)) as store:
        counts = rule_counts(store)
        items = [{**s, "matches": counts.get(s["name"], {})} for s in list_searches(store)]
    print_json({"searches": items}) if as_json else out_console.print(items)


@searches_app.command("apply")
@coded
def searches_apply(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Run the rules now (``radar proposals build`` does it too)."""
    from insights.demand.rules import apply_rules

    with open_store(settings_for(db)) as store:
        doc = apply_rules(store, _components(db).backend(store, semantic=False))
    print_json({"new_matches": doc}) if as_json else out_console.print(doc)


def register(app: typer.Typer) -> None:
    app.add_typer(proposals_app, name="proposals")
    app.add_typer(searches_app, name="searches")
    app.command("trends")(coded(trends))
    app.command("report")(coded(report))
