"""``radar credit`` (grades, contact history, potential complainants) and ``radar triage`` (the queue).

The grade supports differentiated service; it is not a blacklist. Who viewed a grade, claimed or
released a complaint is audited in the store (``credit_audit``).
"""

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

__all__ = ["credit_app", "triage_app"]

credit_app = typer.Typer(help="Complaint credit grades (投诉客户信用分级): grade, show, potential complainants.", no_args_is_help=True)
triage_app = typer.Typer(help="The complaint triage queue, ordered by grade guidance, risk and deadlines.")

ScorecardOption = Annotated[Path | None, typer.Option(help="Scorecard YAML (default: the bundled one).")]
AsOfOption = Annotated[str | None, typer.Option("--as-of", help="Grade or rank as of this time (ISO), for reproducible runs.")]
ViewerOption = Annotated[str | None, typer.Option(help="Who is looking (audited; default: the OS user).")]


def _when(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise APIError(ErrorCode.E501, reason=f"--as-of '{value}' is not an ISO date or time", command="credit") from None


def _scorecard(path: Path | None) -> Any:
    from insights.credit.scorecard import load_scorecard

    return load_scorecard(path)


@credit_app.command("grade")
@coded
def credit_grade(
    db: DbOption = None,
    scorecard: ScorecardOption = None,
    full: Annotated[bool, typer.Option("--full", help="Re-grade every customer, not only those with new records.")] = False,
    as_of: AsOfOption = None,
    as_json: JsonOption = False,
) -> None:
    """Grade customers whose records changed since the last run (all of them with --full or a new scorecard)."""
    from insights.credit.service import grade_store

    card = _scorecard(scorecard)
    with open_store(settings_for(db)) as store:
        report = grade_store(store, card, as_of=_when(as_of), full=full)
    doc = {**report.to_dict(), "scorecard_version": card.version}
    print_json(doc) if as_json else out_console.print(doc)


@credit_app.command("show")
@coded
def credit_show(
    customer_key: Annotated[str, typer.Argument(help="The customer key (as in records' customer_key).")],
    db: DbOption = None,
    scorecard: ScorecardOption = None,
    viewer: ViewerOption = None,
    as_json: JsonOption = False,
) -> None:
    """A customer's contact history (客户接触信息视图), grade, factor contributions and guidance. Audited."""
    from insights.credit.service import contact_history

    with open_store(settings_for(db)) as store:
        doc = contact_history(store, _scorecard(scorecard), customer_key, viewer=viewer or getpass.getuser())
    if as_json:
        print_json(doc)
        return
    grade = doc["grade"]
    if grade:
        out_console.print(f"grade {grade['grade']}  score {grade['score']:.1f}  ({grade['scorecard_version']})")
        out_console.print(f"guidance {grade['guidance']}")
        for f in grade["factors"]:
            out_console.print(f"  {f['factor']:16} {f['points']:+7.2f}  value {f['value']:.2f}  {f['description']}")
    table = Table("time", "source", "type", "repeat", "open", "text")
    for c in doc["contacts"]:
        flags = ("重复" if c["repeat"] else "", "未结" if c["open"] else "")
        table.add_row(c["at"], c["source"], c["complaint_type"] or "", *flags, c["text"][:50])
    out_console.print(table)


@credit_app.command("potential")
@coded
def credit_potential(
    db: DbOption = None, scorecard: ScorecardOption = None, as_of: AsOfOption = None, limit: int = 50, as_json: JsonOption = False
) -> None:
    """Potential complainants (潜在投诉客户): clearly dissatisfied in calls or posts, no ticket yet."""
    from insights.credit.service import potential_complainants

    with open_store(settings_for(db)) as store:
        items = potential_complainants(store, _scorecard(scorecard), as_of=_when(as_of), limit=limit)
    if as_json:
        print_json({"customers": items})
        return
    for item in items:
        out_console.print(f"{item['customer_key']}  {item['dissatisfied_contacts']} 次不满  peak {item['peak_intensity']:.2f}")
        for ev in item["evidence"]:
            out_console.print(f"    {ev['record_id']}: {ev['quote']}")


def _parse_filters(values: list[str]) -> list[tuple[str, str]]:
    from insights.credit.service import TRIAGE_FILTERS

    out = []
    for value in values:
        name, sep, wanted = value.partition("=")
        if not sep or name.strip() not in TRIAGE_FILTERS:
            raise APIError(
                ErrorCode.E501, reason=f"filter '{value}': write name=value with name one of {', '.join(TRIAGE_FILTERS)}", command="triage"
            )
        out.append((name.strip(), wanted.strip()))
    return out


@triage_app.callback(invoke_without_command=True)
@coded
def triage(
    ctx: typer.Context,
    db: DbOption = None,
    scorecard: ScorecardOption = None,
    filters: Annotated[
        list[str] | None,
        typer.Option("--filter", help="name=value; region, complaint_type, grade, channel, source, claimed_by (none = unclaimed)."),
    ] = None,
    limit: int = 50,
    as_of: AsOfOption = None,
    viewer: ViewerOption = None,
    as_json: JsonOption = False,
) -> None:
    """The triage queue of open complaints, most urgent first, each with grade, risk, deadline, guidance and reasons."""
    if ctx.invoked_subcommand is not None:
        return
    from insights.credit.service import triage_queue

    with open_store(settings_for(db)) as store:
        doc = triage_queue(
            store,
            _scorecard(scorecard),
            now=_when(as_of),
            filters=_parse_filters(filters or []),
            limit=limit,
            viewer=viewer or getpass.getuser(),
        )
    if as_json:
        print_json(doc)
        return
    table = Table("#", "record", "grade", "risk", "deadline", "guidance", "why", title=f"{doc['total']} open complaints", expand=True)
    table.columns[1].no_wrap = True
    for i, item in enumerate(doc["items"], 1):
        g = item["guidance"]
        guide = f"{g['seat']} {g['response_hours']:g}h/{g['resolution_hours']:g}h" + (" 回访" if g["callback"] else "")
        why = "; ".join(r["reason"] for r in item["reasons"][:3])
        late = " [red]超时[/]" if item["overdue"] else ""
        table.add_row(str(i), item["record_id"], item["grade"], f"{item['risk']:.2f}", item["deadline"] + late, guide, why)
    out_console.print(table)


@triage_app.command("claim")
@coded
def triage_claim(
    record_id: Annotated[str, typer.Argument()],
    db: DbOption = None,
    who: ViewerOption = None,
    force: Annotated[bool, typer.Option(help="Take it over from whoever holds it (team leads).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Claim an open complaint so nobody else works it."""
    from insights.credit.service import claim

    with open_store(settings_for(db)) as store:
        doc = claim(store, record_id, who or getpass.getuser(), force=force)
    print_json(doc) if as_json else out_console.print(doc)


@triage_app.command("release")
@coded
def triage_release(
    record_id: Annotated[str, typer.Argument()],
    db: DbOption = None,
    who: ViewerOption = None,
    force: Annotated[bool, typer.Option(help="Release someone else's claim (team leads).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Release a claimed complaint back to the queue."""
    from insights.credit.service import release

    with open_store(settings_for(db)) as store:
        doc = release(store, record_id, who or getpass.getuser(), force=force)
    print_json(doc) if as_json else out_console.print(doc)
