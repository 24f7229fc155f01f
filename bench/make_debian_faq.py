"""Build a BEIR-format retrieval set from Debian's documentation packages.

    python bench/make_debian_faq.py [--out bench/data/debian-faq] [--handbook]

Downloads `debian-faq` and `debian-reference-en` (and with --handbook `debian-handbook`) with
`apt-get download`, extracts them with `dpkg-deb -x`, and reads their plain-text editions:

- every numbered FAQ heading that asks a question ("2.3. Where/how can I get ...?") is a query;
  the answer text under it (down to the next numbered heading) is its one gold passage, stored
  without the question so that the query does not leak into the document;
- the FAQ's other sections and every section of the Debian Reference (and of the Debian
  Administrator's Handbook) are distractors.

Writes corpus.jsonl, queries.jsonl and qrels/test.tsv; rerunnable (downloads are cached in
bench/data/debs)."""

from __future__ import annotations

import argparse
import gzip
import html
import json
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DEBS = ROOT / "data" / "debs"
HEADING = re.compile(r"^(?:Chapter )?(\d+(?:\.\d+)*)\.\s+(\S.*)$")


def fetch(package: str) -> Path:
    """The package's files, extracted under bench/data/debs/<package>/."""
    DEBS.mkdir(parents=True, exist_ok=True)
    debs = sorted(DEBS.glob(f"{package}_*.deb"))
    if not debs:
        subprocess.run(["apt-get", "download", package], cwd=DEBS, check=True)
        debs = sorted(DEBS.glob(f"{package}_*.deb"))
    target = DEBS / package
    if not target.is_dir():
        subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(target)], check=True)
    return target


def paragraphs(lines: list[str]) -> str:
    """Re-flow an indented plain-text block: one line per paragraph."""
    out, current = [], []
    for line in lines + [""]:
        if line.strip():
            current.append(line.strip())
        elif current:
            out.append(" ".join(current))
            current = []
    return "\n\n".join(out)


def sections(text: str) -> list[tuple[str, str, str]]:
    """(number, heading, body) of each numbered section of a DocBook plain-text document.
    A heading starts at column 0 and may wrap onto the next lines until a blank line."""
    lines = text.replace("\u00a0", " ").splitlines()
    out: list[tuple[str, str, str]] = []
    i = 0
    number, heading = "", ""
    body: list[str] = []
    while i < len(lines):
        match = HEADING.match(lines[i])
        if match:
            if number:
                out.append((number, heading, paragraphs(body)))
            number, title = match.group(1), [match.group(2).strip()]
            i += 1
            while i < len(lines) and lines[i].strip() and not lines[i].startswith(" "):
                title.append(lines[i].strip())
                i += 1
            heading, body = " ".join(title), []
            continue
        if number:
            body.append(lines[i])
        i += 1
    if number:
        out.append((number, heading, paragraphs(body)))
    return out


def faq() -> tuple[dict[str, tuple[str, str]], dict[str, str]]:
    root = fetch("debian-faq")
    text = gzip.decompress(next(root.rglob("debian-faq.en.txt.gz")).read_bytes()).decode("utf-8")
    start = text.replace("\u00a0", " ").index("\nChapter 1. ")  # after the table of contents
    docs, queries = {}, {}
    for number, heading, body in sections(text[start:]):
        if len(body) < 40:
            continue
        doc_id = f"faq-{number}"
        if "?" in heading and number.count(".") == 1:
            docs[doc_id] = ("", body)
            queries[f"q-{number}"] = heading
        else:
            docs[doc_id] = (heading, body)
    return docs, queries


def reference() -> dict[str, tuple[str, str]]:
    root = fetch("debian-reference-en")
    text = gzip.decompress(next(root.rglob("debian-reference.en.txt.gz")).read_bytes()).decode("utf-8")
    start = text.replace("\u00a0", " ").index("\nChapter 1. ")
    return {f"ref-{n}": (h, b) for n, h, b in sections(text[start:]) if len(b) >= 40}


def handbook() -> dict[str, tuple[str, str]]:
    from bs4 import BeautifulSoup

    root = fetch("debian-handbook")
    docs: dict[str, tuple[str, str]] = {}
    for page in sorted(next(root.rglob("html/en-US")).glob("*.html")):
        soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
        for sec in soup.select("section.section"):
            title = sec.find(["h2", "h3", "h4"])
            paras = [p.get_text(" ", strip=True) for p in sec.find_all("p", recursive=False)]
            body = "\n\n".join(html.unescape(p) for p in paras if p)
            if title and len(body) >= 40:
                docs[f"hb-{page.stem}-{sec.get('id') or len(docs)}"] = (title.get_text(" ", strip=True), body)
    return docs


def write(out: Path, docs: dict[str, tuple[str, str]], queries: dict[str, str]) -> None:
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    with open(out / "corpus.jsonl", "w", encoding="utf-8") as fh:
        for doc_id, (title, text) in docs.items():
            fh.write(json.dumps({"_id": doc_id, "title": title, "text": text}, ensure_ascii=False) + "\n")
    with open(out / "queries.jsonl", "w", encoding="utf-8") as fh:
        for qid, text in queries.items():
            fh.write(json.dumps({"_id": qid, "text": text}, ensure_ascii=False) + "\n")
    with open(out / "qrels" / "test.tsv", "w", encoding="utf-8") as fh:
        fh.write("query-id\tcorpus-id\tscore\n")
        for qid in queries:
            fh.write(f"{qid}\tfaq-{qid[2:]}\t1\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "debian-faq")
    parser.add_argument("--handbook", action="store_true", help="add the Debian Administrator's Handbook")
    parser.add_argument("--no-reference", action="store_true", help="leave out the Debian Reference")
    args = parser.parse_args()
    docs, queries = faq()
    if not args.no_reference:
        docs.update(reference())
    if args.handbook:
        docs.update(handbook())
    write(args.out, docs, queries)
    size = sum(len(t) + len(b) for t, b in docs.values())
    print(f"{args.out}: {len(docs)} documents ({size / 1e6:.2f} MB of text), {len(queries)} queries")


if __name__ == "__main__":
    main()
