"""Refresh the README's screenshots of the web chat (docs/*.png): an answer with its sources,
the document viewer at a highlighted span, and the page at a phone's 390 px width (a source,
and the Documents tab).

    PYTHONPATH=. HF_HUB_OFFLINE=1 [RAG_MODELS_DIR=DIR] python bench/screenshots.py [--out docs]

It serves a copy of corpus/ on a free loopback port, as `rag serve` does (the answerer `auto`:
the llm answerer when RAG_MODELS_DIR, or the user's cache, holds an installed model, or
RAG_LLM_BASE_URL is set), and drives Debian's chromium."""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import tempfile
from pathlib import Path

from rag.kb import KnowledgeBase
from rag.settings import Settings
from ui.app import build_app, example_questions, launch

REPO = Path(__file__).resolve().parent.parent
QUESTIONS = ["What is the difference between open source and closed AI models?",
             "Why do open source models foster innovation?"]  # the llm cites both articles
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ask(page: object, question: str, n: int) -> None:
    box = page.locator("textarea").first  # type: ignore[attr-defined]
    box.fill(question)
    box.press("Enter")
    page.locator(f'#chat [data-testid="bot"] a[href="#a{n}-source-1"]').first.wait_for()  # type: ignore[attr-defined]
    page.wait_for_timeout(400)  # type: ignore[attr-defined]


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(REPO / "corpus", Path(tmp) / "corpus")
        env = {k: v for k, v in os.environ.items() if k in ("RAG_MODELS_DIR", "RAG_LLM_BASE_URL", "RAG_LLM_MODEL")}
        settings = Settings.from_env(env=env, corpus_dir=Path(tmp) / "corpus", index_dir=Path(tmp) / "index")
        kb = KnowledgeBase(settings)
        kb.sync(progress=False)
        kb.warm()
        app = build_app(kb, example_questions(kb))
        url = launch(app, settings, "127.0.0.1", free_port(), block=False)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(300_000)
            page.goto(url)
            for n, question in enumerate(QUESTIONS, 1):
                ask(page, question, n)
            page.screenshot(path=str(out / "screenshot.png"))
            page.locator("#sources a.rag-file").first.click()
            page.locator("#viewer #viewer-mark").wait_for()
            page.wait_for_timeout(600)
            page.screenshot(path=str(out / "viewer.png"))
            phone = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
            phone.set_default_timeout(300_000)
            phone.goto(url)
            ask(phone, QUESTIONS[0], 1)
            phone.locator('#chat a[href="#a1-source-1"]').first.click()
            phone.wait_for_timeout(400)
            phone.screenshot(path=str(out / "phone.png"))
            phone.evaluate("window.scrollTo(0, 0)")
            phone.get_by_role("tab", name="Documents").click()
            phone.locator("#documents").get_by_text("open-vs-closed-source-ai.txt").last.wait_for()
            phone.screenshot(path=str(out / "phone-documents.png"))
            browser.close()
        app.close()
    print(f"wrote {out}/screenshot.png, viewer.png, phone.png, phone-documents.png")


if __name__ == "__main__":
    main()
