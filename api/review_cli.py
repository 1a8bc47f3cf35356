"""``radar review``: the review loop (人工复核). ``export`` writes the least certain records of a facet to
XLSX for labellers; ``import`` keeps their labels, with who and when, for the next ``radar train``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from api.cli_common import DbOption, JsonOption, coded, open_store, settings_for
from api.output import out_console, print_json
from radar.errors import APIError, ErrorCode

__all__ = ["register", "review_app"]

review_app = typer.Typer(
    help="The review loop (人工复核): uncertain labels out to labellers as XLSX, their labels back in for `radar train`.",
    no_args_is_help=True,
)

REASON_NAMES = {"needs_review": "待复核", "disagreement": "规则与模型不一致", "low_score": "置信度最低"}


def _taxonomy(store: Any, settings: Any) -> Any:
    """The taxonomy labelling uses: an activated uploaded version, else the configured file."""
    from api.taxonomies import active_taxonomy

    return active_taxonomy(store, settings)


@review_app.command("export")
@coded
def review_export(
    facet: Annotated[str, typer.Option("--facet", help="The facet to review, e.g. complaint_type.")],
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many records.")] = 200,
    out: Annotated[Path | None, typer.Option("--out", help="The XLSX to write (default: review-<facet>.xlsx).")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write the records to review: needs-review first, then rules/model disagreements, then the lowest scores."""
    from training.review import export_review

    path = out or Path(f"review-{facet}.xlsx")
    if path.suffix.lower() != ".xlsx":
        raise APIError(ErrorCode.E501, reason=f"--out must be an .xlsx file, not '{path.name}'", command="review export")
    settings = settings_for(db)
    with open_store(settings) as store:
        report = export_review(store, _taxonomy(store, settings), facet, path, limit=limit)
    if as_json:
        print_json(report.to_dict())
        return
    out_console.print(f"{report.rows} records written to {report.path}")
    for reason, count in report.by_reason.items():
        out_console.print(f"  {reason} ({REASON_NAMES[reason]}): {count}")


@review_app.command("import")
@coded
def review_import(
    file: Annotated[Path, typer.Argument(help="A review XLSX with the human_label column filled.")],
    labeller: Annotated[
        str | None, typer.Option("--labeller", help="Who labelled (default: the file's labeller column; required if it is empty).")
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Keep the filled human labels; unknown labels are reported by row and not kept. Importing again replaces."""
    from training.review import import_review

    settings = settings_for(db)
    with open_store(settings) as store:
        report = import_review(store, _taxonomy(store, settings), file, labeller=labeller)
    if as_json:
        print_json(report.to_dict())
        return
    out_console.print(
        f"{report.rows} rows: {report.stored} stored, {report.skipped_empty} without a label, {len(report.rejected)} rejected"
    )
    if report.rejected:
        table = Table("row", "label", "reason")
        for r in report.rejected:
            table.add_row(str(r.row), r.label, r.reason)
        out_console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(review_app, name="review")
