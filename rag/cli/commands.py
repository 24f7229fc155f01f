"""The commands that use a knowledge base: index, search, ask, serve, models. Heavy modules
load inside the command that needs them."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from rag.cli.output import emit, safe, safe_line, say, settings_from
from rag.errors import RagError
from rag.settings import Settings

log = logging.getLogger("rag")


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
            say(f"skipped {safe_line(s.path)}: {safe_line(s.reason)}")
        for s in report.partial:
            say(f"{safe_line(s.path)}: {safe_line(s.reason)}")
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
    from rag.shown import readable

    lines = [answer.text, ""] if with_text else []
    if answer.citations:
        lines.append("Sources:")
        for c in answer.citations:
            where = f"{c.source} § {c.section}" if c.section else c.source
            lines.append(f"  [{c.marker}] {where} (characters {c.start}-{c.end})")
            # (as a reader reads it, as the answer shows it: the exact text is at these characters,
            # and in `--json`)
            lines.append(f"      \"{readable(c.quote)}\"")
    if answer.unsupported:
        lines.append("Removed from the answer: no cited passage supports them:")
        lines.extend(f"  - {s}" for s in answer.unsupported)
    return "\n".join(lines)


def note_fallback(answer: Any, asked: str) -> None:
    """One line on stderr when the llm answerer was asked and the extractive answerer's quotes
    came instead (the JSON names the answerer; a reader of the text would not know)."""
    if asked == "llm" and answer.answerer == "extractive" and not answer.abstained:
        why = "the model's answer was not supported by them" if answer.unsupported else "the model gave no answer"
        print(f"rag: note: quoted from the documents: {why}", file=sys.stderr)


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
                    if args.json:
                        emit(answer.to_json())
                        continue
                    note_fallback(answer, kb.answerer_name(args.answerer))
                    say(format_answer(answer) + "\n")
        return 0
    if not args.question:
        raise RagError("give a question, or --batch FILE")
    if args.json:
        emit(kb.ask(args.question, k=args.k, answerer=args.answerer).to_json())
        return 0
    streaming = kb.answerer_name(args.answerer) == "llm"
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
    note_fallback(final, "llm")
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
    serve(web_settings(settings_from(args)), host=args.host, port=args.port)
    return 0


def web_settings(settings: Settings) -> Settings:
    """What the web chat offers, unless the operator said (--answerers, RAG_ANSWERERS): the llm
    answerer only when it has a model (RAG_LLM_BASE_URL or an installed one), and then first,
    or when RAG_ANSWERER=llm asks for it (its error then says what is missing). The default
    answerer, `auto` unless RAG_ANSWERER chose, resolves within this list (so to llm when it
    is offered)."""
    if settings.answerers is not None:
        return settings
    from rag.models import llm_available

    if llm_available(settings):
        return settings.with_(answerers=("llm", "extractive"))
    return settings.with_(answerers=("extractive", "llm") if settings.answerer == "llm" else ("extractive",))


# -- rag models ----------------------------------------------------------------------------
def cmd_models(args: argparse.Namespace) -> int:
    from rag.embed_onnx import NAME as INT8_NAME
    from rag.embed_onnx import int8_names
    from rag.models import EMBEDDING, KNOWN, default_model, install, installed, models_dir

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
        for name in int8_names():
            status = "installed" if name in models else "built on first use"
            source = "all-MiniLM-L6-v2" if name == INT8_NAME else name.removesuffix("-onnx-int8")
            say(f"  {name:<16} (built here)  {status:<18} {source} as fused int8 ONNX: RAG_EMBED_BACKEND=onnx-int8"
                + ("" if name == INT8_NAME else f" with RAG_EMBED_MODEL={source}"))
        return 0
    if not args.name:
        raise RagError(f"name the model to install: rag models install NAME ({', '.join([*KNOWN, *int8_names()])})")
    if args.name in int8_names():
        from rag.embed import build_int8

        model = build_int8(directory, args.name)
        say(f"built {model.name}: {model.path} ({model.size:,} bytes, sha256 {model.sha256})")
        select = "" if args.name == INT8_NAME else f"RAG_EMBED_MODEL={args.name.removesuffix('-onnx-int8')} and "
        say(f"select it with {select}RAG_EMBED_BACKEND=onnx-int8, then rebuild the index: rag index --rebuild")
        return 0
    model = install(args.name, directory, progress=sys.stderr.isatty())
    say(f"installed {model.name}: {model.path} ({model.size:,} bytes, sha256 {model.sha256})")
    if model.kind == EMBEDDING:
        say(f"select it with RAG_EMBED_MODEL={model.name}, then rebuild the index: rag index --rebuild")
    else:
        say("it is now the model of the llm answerer, which now answers by default (the answerer auto): "
            "rag ask \"QUESTION\", the web chat (rag serve) and KnowledgeBase.ask; "
            "RAG_ANSWERER=extractive or --answerer extractive for quotes alone")
    return 0
