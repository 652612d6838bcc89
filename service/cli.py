"""The ``docqa`` command: index, serve, ask. A thin adapter over ``index`` and ``service``."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from flask import Flask

from index.build import build_index
from index.errors import DocqaError
from index.settings import BuildSettings
from service import DEFAULT_THREADS

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}


def location_options(command: Callable) -> Callable:
    """Add --documents and --index, which override DOCQA_DOCUMENTS and DOCQA_INDEX."""
    command = click.option(
        "--index",
        "index_path",
        type=click.Path(dir_okay=False),
        help="Index file [env DOCQA_INDEX; default instance/docqa.sqlite].",
    )(command)
    return click.option(
        "--documents",
        type=click.Path(file_okay=False),
        help="Documents folder [env DOCQA_DOCUMENTS; default documents/].",
    )(command)


def make_app(documents: str | None, index_path: str | None, **extra: Any) -> Flask:
    """Create the app with command-line overrides, turning setting errors into CLI errors."""
    from service import create_app

    overrides = {k: v for k, v in {"DOCUMENTS": documents, "INDEX": index_path, **extra}.items() if v is not None}
    try:
        return create_app(overrides)
    except DocqaError as exc:
        raise click.ClickException(str(exc)) from exc


def build_settings(app: Flask) -> BuildSettings:
    """The build settings out of the app's configuration."""
    return BuildSettings.from_mapping({k: app.config[k.upper()] for k in BuildSettings.__dataclass_fields__})


def run_build(app: Flask, full: bool = False) -> None:
    """Build or update the index and print its summary; errors become CLI errors."""
    try:
        summary = build_index(
            Path(app.config["DOCUMENTS"]),
            Path(app.config["INDEX"]),
            build_settings(app),
            full=full,
            progress=sys.stderr.isatty(),
        )
    except DocqaError as exc:
        raise click.ClickException(str(exc)) from exc
    for failure in summary.failures:
        click.echo(f"  failed: {failure['path']}: {failure['error']}", err=True)
    click.echo(summary.line())


def built_by_another_version(index_path: Path) -> bool:
    """Whether the index's format or terms are another docqa version's (an upgrade): such an
    index answers every question with 503 until rebuilt, so ``serve`` rebuilds it first. An
    index with other build settings is served as it is (it keeps its own settings)."""
    from index.errors import IndexOutdated
    from index.store import IndexFile

    try:
        IndexFile(index_path).close()
    except IndexOutdated:
        return True
    except DocqaError:  # damaged or replaced meanwhile: each request reports it as it stands
        pass
    return False


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="docqa")
def cli() -> None:
    """Ask questions of a folder of documents: BM25 retrieval, extractive answers, citations."""


@cli.command("index")
@location_options
@click.option("--full", is_flag=True, help="Re-read every file instead of reusing unchanged ones.")
@click.option("--watch", is_flag=True, help="Keep running and rebuild when documents change.")
def index_command(documents: str | None, index_path: str | None, full: bool, watch: bool) -> None:
    """Build or update the index from the documents folder."""
    app = make_app(documents, index_path)
    if not watch or not Path(app.config["DOCUMENTS"]).is_dir():
        run_build(app, full)  # also where a missing folder is reported, before anything is watched
        return
    from index.watch import watch as watch_folder

    def first() -> None:
        run_build(app, full)
        click.echo(f"Watching {app.config['DOCUMENTS']} for changes; press Ctrl+C to stop.")

    try:
        watch_folder(Path(app.config["DOCUMENTS"]), lambda: _rebuild_quietly(app), first=first)
    except KeyboardInterrupt:
        pass


def _rebuild_quietly(app: Flask) -> None:
    try:
        run_build(app)
    except click.ClickException as exc:
        click.echo(f"Error: {exc.message}", err=True)


@cli.command("serve")
@location_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="Server processes.")
@click.option(
    "--threads", default=DEFAULT_THREADS, show_default=True, type=click.IntRange(1, 256), help="Threads per process."
)
@click.option("--dev", is_flag=True, help="Use Flask's debug server (reloads code; never in production).")
def serve_command(
    documents: str | None, index_path: str | None, host: str, port: int, workers: int, threads: int, dev: bool
) -> None:
    """Serve the chat page and the JSON API, building the index first if there is none."""
    app = make_app(documents, index_path)
    if not Path(app.config["INDEX"]).exists():
        click.echo("No index yet; building it first.")
        run_build(app)
    elif built_by_another_version(Path(app.config["INDEX"])):
        click.echo("The index was built by another version of docqa; rebuilding it first.")
        run_build(app)
    click.echo(f"docqa is answering at http://{host}:{port}/ (index {app.config['INDEX']})")
    if dev:
        app.run(host=host, port=port, debug=True)
        return
    from service.server import serve

    serve(app, host, port, workers, threads)


@cli.command("ask")
@location_options
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print the same JSON as POST /api/ask.")
@click.option("--top-k", type=int, default=None, help="Passages to return (1-20).")
@click.option("--history", multiple=True, help="An earlier question of the conversation (repeatable, oldest first).")
def ask_command(
    documents: str | None,
    index_path: str | None,
    question: str,
    as_json: bool,
    top_k: int | None,
    history: tuple[str, ...],
) -> None:
    """Answer QUESTION from the index and print it with its citations."""
    from service.api import ask_from

    app = make_app(documents, index_path)
    try:
        with app.app_context():
            result = ask_from(
                {
                    "question": question,
                    "history": list(history),
                    "top_k": top_k if top_k is not None else app.config["TOP_K"],
                }
            )
    except DocqaError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    click.echo(format_answer(result))


def setting_options(command: Callable) -> Callable:
    """Options to try build settings in an evaluation without changing the environment."""
    for name, kind in (
        ("chunk_words", int),
        ("chunk_overlap", int),
        ("k1", float),
        ("b", float),
        ("title_in_chunks", bool),
        ("title_weight", int),
    ):
        flag = "--" + name.replace("_", "-")
        command = click.option(flag, name, type=kind, default=None, help=f"Override DOCQA_{name.upper()}.")(command)
    return command


def eval_settings(overrides: dict[str, Any]) -> BuildSettings:
    """Build settings from the environment, then the command-line overrides."""
    from index.settings import DEFAULTS
    from index.settings import from_environ

    try:
        values = {**DEFAULTS, **from_environ(), **{k: v for k, v in overrides.items() if v is not None}}
        return BuildSettings.from_mapping(values)
    except DocqaError as exc:
        raise click.ClickException(str(exc)) from exc


def query_setting(name: str) -> Any:
    """A setting that applies when asking (not building), from the environment or its default."""
    from index.settings import DEFAULTS
    from index.settings import from_environ

    try:
        return {**DEFAULTS, **from_environ()}[name]
    except DocqaError as exc:
        raise click.ClickException(str(exc)) from exc


def feedback_option(command: Callable) -> Callable:
    """``--feedback-terms``: try another amount of pseudo-relevance feedback for one run.

    Without it, DOCQA_FEEDBACK_TERMS or its default, checked as the server checks it.
    """
    from index.feedback import MAX_FEEDBACK_TERMS
    from index.feedback import check_feedback_terms

    def or_environment(_ctx: click.Context, _param: click.Parameter, value: int | None) -> int:
        if value is not None:
            return value
        try:
            return check_feedback_terms(query_setting("feedback_terms"))
        except DocqaError as exc:
            raise click.ClickException(str(exc)) from exc

    return click.option(
        "--feedback-terms",
        type=click.IntRange(0, MAX_FEEDBACK_TERMS),
        default=None,
        callback=or_environment,
        help="Override DOCQA_FEEDBACK_TERMS (0 ranks by the question alone).",
    )(command)


@cli.group("eval")
def eval_group() -> None:
    """Measure retrieval and answer quality on public collections (needs docqa[eval])."""


@eval_group.command("retrieval")
@click.option("--corpus", type=click.Path(exists=True, dir_okay=False), required=True, help="BEIR corpus.jsonl")
@click.option("--queries", type=click.Path(exists=True, dir_okay=False), required=True, help="BEIR queries.jsonl")
@click.option("--qrels", type=click.Path(exists=True, dir_okay=False), required=True, help="BEIR qrels TSV")
@click.option("--per-query", type=click.Path(dir_okay=False), default=None, help="Write per-query measures here.")
@feedback_option
@setting_options
def eval_retrieval(
    corpus: str, queries: str, qrels: str, per_query: str | None, feedback_terms: int, **overrides: Any
) -> None:
    """Index a BEIR collection; report nDCG@10, R@100 and RR@10 against plain rank-bm25."""
    from service.evaluate import evaluate_retrieval

    _need_ir_measures()
    report = evaluate_retrieval(
        Path(corpus),
        Path(queries),
        Path(qrels),
        eval_settings(overrides),
        Path(per_query) if per_query else None,
        feedback_terms=feedback_terms,
    )
    click.echo(json.dumps(report, indent=2))


@eval_group.command("qa")
@click.option("--corpus", type=click.Path(exists=True, dir_okay=False), required=True, help="SQuAD paragraphs jsonl")
@click.option("--questions", type=click.Path(exists=True, dir_okay=False), required=True, help="SQuAD questions jsonl")
@click.option(
    "--unanswerable",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Questions the documents do not answer, one per line (abstention check).",
)
@click.option("--limit", type=int, default=None, help="Only the first N questions.")
@click.option("--min-coverage", type=float, default=None, help="Override DOCQA_MIN_COVERAGE.")
@feedback_option
@setting_options
def eval_qa(
    corpus: str,
    questions: str,
    unanswerable: str | None,
    limit: int | None,
    min_coverage: float | None,
    feedback_terms: int,
    **overrides: Any,
) -> None:
    """Ask every SQuAD question through the answer code; report accuracy, ranks and abstention."""
    from service.evaluate import evaluate_qa

    negatives = None
    if unanswerable:
        negatives = [line.strip() for line in Path(unanswerable).read_text().splitlines() if line.strip()]
    if min_coverage is None:
        min_coverage = query_setting("min_coverage")
    report = evaluate_qa(
        Path(corpus),
        Path(questions),
        eval_settings(overrides),
        limit,
        negatives,
        min_coverage=min_coverage,
        feedback_terms=feedback_terms,
    )
    click.echo(json.dumps(report, indent=2))


def _need_ir_measures() -> None:
    try:
        import ir_measures  # noqa: F401
    except ImportError:
        raise click.ClickException("docqa eval needs ir-measures: pip install -e '.[eval]'") from None


def format_answer(result: dict[str, Any]) -> str:
    """Render an answer for a terminal: sentences with [n] markers, then the sources."""
    lines = []
    if result["answered"]:
        sentences = result["answer"]["sentences"]
        parts = []
        for i, s in enumerate(sentences):
            last_of_run = i + 1 == len(sentences) or sentences[i + 1]["citation"] != s["citation"]
            parts.append(f"{s['text']} [{s['citation']}]" if last_of_run else s["text"])
        lines.append(" ".join(parts))
        lines.append("")
        for c in result["citations"]:
            where = f", {c['section']}" if c["section"] else ""
            lines.append(
                f"[{c['n']}] {c['document']['title']}{where} ({c['document']['path']}, chars {c['start']}-{c['end']})"
            )
    else:
        lines.append(result["message"])
        for p in result["passages"]:
            where = f", {p['section']}" if p["section"] else ""
            lines.append(f"  - {p['document']['title']}{where}: {p['text'][:160]}...")
    return "\n".join(lines)


main = cli
