"""`rag index | ask | search | serve | eval | bench | models`. Turns RagErrors into messages
and exit codes; heavy modules load only inside the command that needs them."""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

from rag.errors import RagError
from rag.settings import Settings

log = logging.getLogger("rag")


def settings_from(args: argparse.Namespace) -> Settings:
    """Defaults, then RAG_* variables, then the flags given."""
    return Settings.from_env(
        corpus_dir=getattr(args, "corpus", None),
        index_dir=getattr(args, "index", None),
        chroma_url=getattr(args, "chroma_url", None),
        answerer=getattr(args, "answerer", None),
        k=getattr(args, "k", None),
        reranker=getattr(args, "reranker", None),
        auth=getattr(args, "auth", None),
        auth_file=getattr(args, "auth_file", None),
        answerers=getattr(args, "answerers", None),
        read_only=True if getattr(args, "read_only", False) else None,
    )


def emit(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
    sys.stdout.flush()


# C0 and C1 controls other than newline and tab, DEL, and the bidi overrides: a document or a
# file name could otherwise move the cursor, recolour or retitle the terminal, or hide text
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def safe(text: object) -> str:
    """Text for a terminal: control characters shown as escapes, never sent raw."""
    return _UNSAFE.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), str(text))


def say(text: object = "") -> None:
    print(safe(text))


def _paths(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", metavar="DIR", help="corpus folder (RAG_CORPUS_DIR, default corpus/)")
    p.add_argument("--index", metavar="DIR", help="index folder (RAG_INDEX_DIR, default .rag-index/)")
    p.add_argument("--chroma-url", metavar="URL", help="use a Chroma server (RAG_CHROMA_URL)")


def _k(p: argparse.ArgumentParser) -> None:
    p.add_argument("-k", type=int, metavar="N", help="number of passages to retrieve (default 5)")


# -- rag index -----------------------------------------------------------------------------
def cmd_index(args: argparse.Namespace) -> int:
    from rag.kb import KnowledgeBase

    kb = KnowledgeBase(settings_from(args))
    if args.watch:
        from rag.watch import watch

        watch(kb, json_lines=args.json)
        return 0
    report = kb.sync(dry_run=args.dry_run, rebuild=args.rebuild)
    if args.verify:
        from dataclasses import replace

        from rag.index import verify

        checked, repaired = verify(kb.settings, kb.embedder)
        report = replace(report, chunks_verified=checked, chunks_repaired=report.chunks_repaired + repaired)
    if args.json:
        emit(report.to_json())
    else:
        say(report.summary())
        if args.verify or report.chunks_repaired:
            say(f"verified: {report.chunks_verified} chunks found by search, "
                f"{report.chunks_repaired} of them written again to be found")
        for s in report.skipped:
            say(f"skipped {s.path}: {s.reason}")
    return 0


# -- rag search ----------------------------------------------------------------------------
def cmd_search(args: argparse.Namespace) -> int:
    from rag.kb import KnowledgeBase

    kb = KnowledgeBase(settings_from(args))
    hits = kb.search(args.question, args.k, mode=args.mode)
    rows = [
        {
            "source": h.chunk.source,
            "section": h.chunk.section,
            "text": h.chunk.text,
            "start": h.chunk.start,
            "end": h.chunk.end,
            "score": round(h.score, 6),
        }
        for h in hits
    ]
    if args.json:
        emit({"question": args.question, "hits": rows})
    else:
        for i, r in enumerate(rows, 1):
            say(f"{i}. {r['source']} § {r['section'] or '-'} [{r['start']}:{r['end']}] score {r['score']:.4f}")
            say("   " + str(r["text"]).replace("\n", "\n   "))
    return 0


# -- rag ask -------------------------------------------------------------------------------
def format_answer(answer: Any, with_text: bool = True) -> str:
    lines = [answer.text, ""] if with_text else []
    if answer.citations:
        lines.append("Sources:")
        for c in answer.citations:
            where = f"{c.source} § {c.section}" if c.section else c.source
            lines.append(f"  [{c.marker}] {where} (characters {c.start}-{c.end})")
            lines.append(f"      \"{c.quote}\"")
    if answer.unsupported:
        lines.append("Not supported by the cited passages (check before relying on them):")
        lines.extend(f"  - {s}" for s in answer.unsupported)
    return "\n".join(lines)


def cmd_ask(args: argparse.Namespace) -> int:
    from rag.kb import KnowledgeBase

    kb = KnowledgeBase(settings_from(args))
    if args.batch:
        kb.warm()
        stream = sys.stdin if args.batch == "-" else open(args.batch, encoding="utf-8")
        with stream:
            for line in stream:
                if line.strip():
                    answer = kb.ask(line.strip(), k=args.k, answerer=args.answerer)
                    emit(answer.to_json()) if args.json else say(format_answer(answer) + "\n")
        return 0
    if not args.question:
        raise RagError("give a question, or --batch FILE")
    if args.json:
        emit(kb.ask(args.question, k=args.k, answerer=args.answerer).to_json())
        return 0
    streaming = (args.answerer or kb.settings.answerer) == "llm"
    final, streamed = None, ""
    for piece in kb.stream(args.question, k=args.k, answerer=args.answerer):
        if isinstance(piece, str):
            if streaming:
                streamed += piece
                sys.stdout.write(safe(piece))
                sys.stdout.flush()
        else:
            final = piece
    assert final is not None
    if not streaming:
        say(format_answer(final))
        return 0
    say("\n")
    if " ".join(streamed.split()) != " ".join(final.text.split()):
        say("Checked answer (citation markers verified and renumbered):\n" + final.text + "\n")
    say(format_answer(final, with_text=False))
    return 0


# -- rag serve -----------------------------------------------------------------------------
def cmd_serve(args: argparse.Namespace) -> int:
    from ui.app import serve

    if args.auth:
        log.warning("--auth shows the password to every user of this machine (ps); "
                    "prefer RAG_AUTH or --auth-file FILE")
    settings = settings_from(args)
    if settings.answerers is None:
        # what is configured: the llm answerer only with a model server or an installed model
        settings = settings.with_(answerers=configured_answerers(settings))
    serve(settings, host=args.host, port=args.port)
    return 0


def configured_answerers(settings: Settings) -> tuple[str, ...]:
    from rag.models import default_model, models_dir

    has_llm = bool(settings.llm_base_url) or default_model(models_dir(settings), settings.llm_model) is not None
    return ("extractive", "llm") if has_llm or settings.answerer == "llm" else ("extractive",)


# -- rag models ----------------------------------------------------------------------------
def cmd_models(args: argparse.Namespace) -> int:
    from rag.models import KNOWN, default_model, install, installed, models_dir

    directory = models_dir(settings_from(args))
    if args.action == "list":
        models = installed(directory)
        default = default_model(directory)
        say(f"models folder: {directory}")
        for spec in KNOWN.values():
            status = "not installed"
            if spec.name in models:
                status = "installed, default" if default and default.name == spec.name else "installed"
            say(f"  {spec.name:<13} {spec.size / 1e6:>7,.0f} MB  {status:<18} {spec.description}")
        return 0
    if not args.name:
        raise RagError(f"name the model to install: rag models install NAME ({', '.join(KNOWN)})")
    model = install(args.name, directory, progress=sys.stderr.isatty())
    say(f"installed {model.name}: {model.path} ({model.size:,} bytes, sha256 {model.sha256})")
    say("it is now the default model of the llm answerer: rag ask --answerer llm \"QUESTION\"")
    return 0


def _lazy(module: str, func: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        import importlib

        return int(getattr(importlib.import_module(module), func)(args))

    return run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rag", description="Ask questions of a folder of documents, with exact citations."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("index", help="bring the index up to date with the corpus folder")
    _paths(p)
    p.add_argument("--rebuild", action="store_true", help="start the index over")
    p.add_argument("--dry-run", action="store_true", help="show what would change, change nothing")
    p.add_argument("--watch", action="store_true", help="keep running; sync when files change")
    p.add_argument("--verify", action="store_true",
                   help="after the sync, check that search finds every chunk; write again any it does not")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("search", help="show the passages nearest to a question")
    p.add_argument("question")
    _paths(p)
    _k(p)
    p.add_argument("--mode", choices=("hybrid", "dense", "bm25"), default="hybrid")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("ask", help="answer a question with citations")
    p.add_argument("question", nargs="?")
    _paths(p)
    _k(p)
    p.add_argument("--answerer", help="extractive (default) or llm")
    p.add_argument("--batch", metavar="FILE", help="one question per line ('-' for standard input)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("serve", help="serve the web chat")
    _paths(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--auth", metavar="USER:PASSWORD",
                   help="require a login (visible in ps: prefer RAG_AUTH or --auth-file)")
    p.add_argument("--auth-file", metavar="FILE", help="require a login: FILE's first line is USER:PASSWORD")
    p.add_argument("--answerers", metavar="NAMES",
                   help="answerers this server offers, e.g. extractive or extractive,llm "
                        "(RAG_ANSWERERS; default: extractive, and llm when a model is configured)")
    p.add_argument("--read-only", action="store_true", help="turn off uploads and sync")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("eval", help="measure answer quality on a question set")
    _paths(p)
    _k(p)
    p.add_argument("--qa", metavar="FILE", help="question set (JSON Lines)")
    p.add_argument("--answerer", help="extractive (default) or llm")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_lazy("rag.evaluate", "cmd_eval"))

    p = sub.add_parser("bench", help="retrieval benchmark on a BEIR-format data set")
    p.add_argument("--beir", metavar="DIR", required=True)
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--reranker", metavar="MODEL", help="also rank with this cross-encoder")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_lazy("rag.benchmark", "cmd_bench"))

    p = sub.add_parser("models", help="install a local LLM for the llm answerer")
    p.add_argument("action", choices=("list", "install"))
    p.add_argument("name", nargs="?")
    p.set_defaults(func=cmd_models)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if getattr(args, "verify", False) and (args.dry_run or args.watch):
        parser.error("--verify cannot be combined with --dry-run or --watch")
    if getattr(args, "k", None) is not None and args.command != "bench" and args.k < 1:
        parser.error(f"-k must be a positive number, not {args.k}")
    try:
        return int(args.func(args))
    except RagError as err:
        print(f"rag: error: {safe(err)}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("rag: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
