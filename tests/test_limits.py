"""What a careless or hostile caller can do wrong with a question or a setting: one clear error,
never a traceback, and no secret in a repr."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rag.cli import safe
from rag.errors import ConfigError, RagError
from rag.kb import KnowledgeBase
from rag.settings import Settings

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("question", "message"),
    [([123], "must be text"), (None, "must be text"), ("   ", "is empty"), ("x" * 2001, "at most 2,000")],
)
def test_bad_questions_are_refused_with_a_reason(articles_kb: KnowledgeBase, question: object, message: str) -> None:
    with pytest.raises(RagError, match=message):
        articles_kb.ask(question)  # type: ignore[arg-type]


def test_undecodable_characters_in_a_question_are_replaced(articles_kb: KnowledgeBase) -> None:
    answer = articles_kb.ask("What is open \ud800 source \udcff AI?")
    assert answer.question == "What is open ? source ? AI?"
    assert not answer.abstained and answer.citations


def test_the_operator_chooses_the_answerers(articles_kb: KnowledgeBase) -> None:
    kb = KnowledgeBase(articles_kb.settings.with_(answerers="extractive"), embedder=articles_kb.embedder)
    assert kb.settings.offered_answerers == ("extractive",)
    with pytest.raises(ConfigError, match="not offered"):
        kb.ask("What is open source AI?", answerer="llm")
    assert not kb.ask("What is open source AI?").abstained
    # the default answerer must be one that is offered
    assert Settings.from_env(env={"RAG_ANSWERER": "llm", "RAG_ANSWERERS": "extractive"}).answerer == "extractive"
    with pytest.raises(ConfigError, match="--answerers"):
        Settings.from_env(env={"RAG_ANSWERERS": "extractive,gpt"})


def test_logins_need_a_password_and_secrets_stay_out_of_reprs(tmp_path: Path) -> None:
    for bad in ("ada:", ":pw", "ada"):
        with pytest.raises(ConfigError, match="non-empty password"):
            Settings.from_env(env={"RAG_AUTH": bad})
    login = tmp_path / "login"
    login.write_text("ada:s3cretPW\n")
    s = Settings.from_env(env={"RAG_AUTH_FILE": str(login), "RAG_LLM_API_KEY": "sk-very-secret"})
    assert s.auth == "ada:s3cretPW" and s.llm_api_key == "sk-very-secret"
    assert "s3cretPW" not in repr(s) and "sk-very-secret" not in repr(s)
    with pytest.raises(ConfigError, match="cannot read the login file"):
        Settings.from_env(env={"RAG_AUTH_FILE": str(tmp_path / "missing")})


def test_terminal_output_escapes_control_characters() -> None:
    assert safe("a\x1b[31mred\x07\u202egpj.md\nline\ttab") == "a\\x1b[31mred\\x07\\u202egpj.md\nline\ttab"


def test_cli_question_with_undecodable_bytes_is_answered(articles_kb: KnowledgeBase) -> None:
    s = articles_kb.settings
    done = subprocess.run(
        [sys.executable, "-m", "rag.cli", "ask", "--json", "--corpus", str(s.corpus_dir), "--index", str(s.index_dir),
         b"open \xff source AI".decode("utf-8", "surrogateescape")],
        cwd=REPO, capture_output=True, text=True, errors="surrogateescape",
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert '"question": "open ? source AI"' in done.stdout


def test_a_new_index_folder_and_uploads_are_private(make_kb: Any) -> None:
    kb = make_kb()
    (kb.settings.corpus_dir / "a.txt").write_text("Rivers flow to the sea and the sea is salty.\n")
    kb.sync(progress=False)
    assert stat.S_IMODE(kb.settings.index_dir.stat().st_mode) == 0o700
    saved = kb.add_file("notes/b.md", b"# Notes\n\nOnly for the owner.\n")
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert stat.S_IMODE(saved.parent.stat().st_mode) == 0o700


def test_a_documents_own_bracketed_numbers_are_not_citation_markers(make_kb: Any) -> None:
    from rag.text import MARKER

    kb = make_kb()
    (kb.settings.corpus_dir / "refs.txt").write_text(
        "Lighthouses guide ships along dangerous coasts at night, as shown in [2] and [3].\n"
        "Keepers once trimmed the lamp wicks every few hours through the night.\n")
    kb.sync(progress=False)
    answer = kb.ask("What do lighthouses guide along dangerous coasts?")
    assert not answer.abstained
    assert {int(m.group(1)) for m in MARKER.finditer(answer.text)} == {c.marker for c in answer.citations}
    assert "(2) and (3)" in answer.text and "[2] and [3]" in answer.citations[0].quote


def test_a_follow_up_at_the_length_limit_is_not_refused_for_its_carried_terms(articles_kb: KnowledgeBase) -> None:
    limit = articles_kb.settings.max_question_chars
    question = "What are its risks?" + " " * (limit - len("What are its risks?"))
    answer = articles_kb.ask(question, history=[("What is the difference between open and closed AI?", "")])
    assert len(answer.standalone_question) > limit  # the carried terms go past the limit
    assert answer.abstained or answer.citations
