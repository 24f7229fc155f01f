"""`rag index | ask | search | serve | eval | bench | models`: the parser and `main`, which turns
RagErrors into one-line messages and exit codes. The commands live in `commands.py` and
`reports.py`; what they share in `output.py`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from rag.cli.commands import cmd_ask, cmd_index, cmd_models, cmd_search, cmd_serve
from rag.cli.output import SafeFormatter, emit, safe, say, settings_from
from rag.cli.reports import cmd_bench, cmd_eval
from rag.errors import RagError

__all__ = ["build_parser", "emit", "main", "safe", "say", "settings_from"]


AUTO_HELP = ("auto (default: llm when a model is installed or RAG_LLM_BASE_URL is set, else extractive), "
             "extractive or llm (RAG_ANSWERER)")


def _paths(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", metavar="DIR", help="corpus folder (RAG_CORPUS_DIR, default corpus/)")
    p.add_argument("--index", metavar="DIR", help="index folder (RAG_INDEX_DIR, default .rag-index/)")
    p.add_argument("--chroma-url", metavar="URL", help="use a Chroma server (RAG_CHROMA_URL)")


def _k(p: argparse.ArgumentParser) -> None:
    p.add_argument("-k", type=int, metavar="N", help="number of passages to retrieve (default 5)")


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
    p.add_argument("--answerer", help=AUTO_HELP)
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
    p.add_argument("--answerer", help="the chat's default answerer: " + AUTO_HELP)
    p.add_argument("--answerers", metavar="NAMES",
                   help="answerers this server offers, e.g. extractive or extractive,llm "
                        "(RAG_ANSWERERS; default: extractive, and llm when a model is configured)")
    p.add_argument("--read-only", action="store_true", help="turn off uploads and sync")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("eval", help="measure answer quality on a question set")
    _paths(p)
    _k(p)
    p.add_argument("--qa", metavar="FILE", help="question set (JSON Lines)")
    p.add_argument("--answerer", help=AUTO_HELP)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("bench", help="retrieval benchmark on a BEIR-format data set")
    p.add_argument("--beir", metavar="DIR", required=True)
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--reranker", metavar="MODEL", help="also rank with this cross-encoder")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("models", help="install a local LLM for the llm answerer, or an embedding model")
    p.add_argument("action", choices=("list", "install"))
    p.add_argument("name", nargs="?")
    p.set_defaults(func=cmd_models)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = logging.StreamHandler()
    handler.setFormatter(SafeFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, handlers=[handler])
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
