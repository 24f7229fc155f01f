"""Build a BEIR-format retrieval set from Debian's documentation packages.

    python bench/make_debian_faq.py [--out bench/data/debian-faq] [--handbook]

Downloads `debian-faq` and `debian-reference-en` (and with --handbook `debian-handbook`), at the
versions pinned in PACKAGES, with `apt-get download`, checks their SHA-256, extracts them with `dpkg-deb -x`, and reads their plain-text editions:

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
import hashlib
import html
import json
import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DEBS = ROOT / "data" / "debs"
HEADING = re.compile(r"^(?:Chapter )?(\d+(?:\.\d+)*)\.\s+(\S.*)$")


# The Debian packages every benchmark set is built from (this script, bench/make_suite.py,
# bench/make_holdout.py), pinned: the version `apt-get download` fetches and the SHA-256 of its
# .deb, as Debian 12 (bookworm)'s signed archive index lists it (`apt-cache show PACKAGE=VERSION`,
# 2026-12-05). A point release changes the texts and so every figure measured on them; when the
# archive has moved on, put the pinned .deb (https://snapshot.debian.org) into bench/data/debs:
# the hash is checked all the same. Pin a new version only with every figure measured again.
PACKAGES = {
    "debian-faq": ("11.1", "427426e0cfa6888622fc1d72631071cb4b5a1f86ccde722e7820bcef284de5d0"),
    "debian-reference-en": ("2.100", "9f31d3a17df505de09689ca255512ea58c1fc47c59bb1b0c7bf1c23362e9743f"),
    "debian-handbook": ("11.20220922", "3d5dbeac1f1afc9c094eab9d0f701f6ecff99c4927d5a4794cf6c85678134faa"),
    "git-doc": ("1:2.39.5-0+deb12u3", "3c89668a11053a6bafade3de1f611f4613db31e082af63f43d8c5b69ad8795ec"),
    "sqlite3-doc": ("3.40.1-2+deb12u2", "466e30d7066e2641fa13e56bc662a2ad521b8cc9c17dde9c9dac3d4f105e32f2"),
    "emacs-common": ("1:28.2+1-15+deb12u4", "35a9075085d83962841c50289d7ae25e2075cffeadf5c2df78f9c76ad51ee9cf"),
    "python3.11-doc": ("3.11.2-6+deb12u9", "5b3594189d6ef9a6963ce0347fd307a1cc67620ad697e144db366070e2e146be"),
    "perl-doc": ("5.36.0-7+deb12u4", "f4269cff4576d6f02a6756df842988e58451c7e945b08517dd235531b24e48f8"),
    "zsh-common": ("5.9-4", "4f263aa88910f750965b1a83dcbca1355b2cf509acffe96cc2d856333909a7b5"),
    "zsh-doc": ("5.9-4", "79bd75df4bf03d1021e993fd773f82b8a4c8d76649e420cd32eca940cf418ff4"),
}


def fetch(package: str) -> Path:
    """The pinned package's files, extracted under bench/data/debs/<package>_<version>/; the .deb
    is downloaded once (cached in bench/data/debs) and its SHA-256 checked every time."""
    version, sha256 = PACKAGES[package]
    DEBS.mkdir(parents=True, exist_ok=True)
    name = f"{package}_{version.replace(':', '%3a')}_all.deb"  # how apt-get names the file
    deb = DEBS / name
    if not deb.exists():
        subprocess.run(["apt-get", "download", f"{package}={version}"], cwd=DEBS, check=False)
        if not deb.exists():
            raise SystemExit(f"could not download {package} {version} with apt-get: put {name} (from "
                             f"https://snapshot.debian.org/binary/{package}/) into {DEBS}")
    digest = hashlib.sha256(deb.read_bytes()).hexdigest()
    if digest != sha256:
        raise SystemExit(f"{deb} has SHA-256 {digest}, not the pinned {sha256} (bench/make_debian_faq.py "
                         "PACKAGES): delete it and run again")
    target = DEBS / f"{package}_{version.replace(':', '%3a')}"
    if not target.is_dir():
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        subprocess.run(["dpkg-deb", "-x", str(deb), str(partial)], check=True)
        partial.rename(target)  # a killed extraction is never taken for a whole one
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
