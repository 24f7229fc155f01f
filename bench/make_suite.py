"""Build the development suite: real FAQs from Debian packages, each with distractors from the
same package's manuals, as BEIR retrieval sets and as `rag eval` question files.

    python bench/make_suite.py [--out bench/data/suite]

Packages are fetched at the versions pinned in bench/make_debian_faq.py (PACKAGES, SHA-256
checked) with `apt-get download` into bench/data/debs (cached) and extracted with
`dpkg-deb -x`. For each domain the builder writes, under OUT/<domain>/:

- corpus/: one file per FAQ entry holding the entry's answer without its heading, verbatim in
  the FAQ's own format (.txt for plain text, GNU Info and AsciiDoc, .html for the SQLite FAQ),
  and distractor files cut from the package's manuals in their formats;
- corpus.jsonl, queries.jsonl, qrels/dev.tsv, qrels/test.tsv: the BEIR set (document id = the
  file name, query = the FAQ heading, relevant document = its answer);
- qa-dev.jsonl, qa-test.jsonl: the same questions for `rag eval --qa`, each with `entry` (the
  corpus file, and where the answer came from in the package's FAQ file), plus 10 off-topic
  questions per domain (answerable: false), all split in halves with a fixed seed.

The articles domain (corpus/ of the repository) is added with tests/data/qa.jsonl as its dev
set and tests/data/qa_articles_independent.jsonl as its test set. Tune on dev only."""

from __future__ import annotations

import argparse
import gzip
import html
import json
import random
import re
import shutil
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_debian_faq import HEADING, fetch

REPO = Path(__file__).resolve().parent.parent
SEED = 9  # the split and the distractor samples; fixed so that dev and test never swap
DISTRACTOR_CHARS = 300_000  # per domain: enough to confuse, small enough to index in a minute


@dataclass(frozen=True)
class Entry:
    question: str
    name: str  # corpus file name
    body: str  # the file's content
    origin: str  # the package file the answer came from
    start: int  # offsets of the answer in that file's text
    end: int


@dataclass(frozen=True)
class Domain:
    name: str
    entries: list[Entry]
    distractors: dict[str, str]  # file name -> content


def _text(path: Path) -> str:
    data = path.read_bytes()
    return (gzip.decompress(data) if path.suffix == ".gz" else data).decode("utf-8")


def _budget(pieces: list[tuple[str, str]], limit: int = DISTRACTOR_CHARS) -> dict[str, str]:
    """A fixed-seed sample of (name, text) pieces up to `limit` characters."""
    rng = random.Random(SEED)
    pieces = [p for p in pieces if len(p[1].strip()) >= 200 and "\x00" not in p[1]]  # no Info indices
    rng.shuffle(pieces)
    out: dict[str, str] = {}
    total = 0
    for name, text in pieces:
        if total + len(text) > limit and out:
            continue
        out[name] = text
        total += len(text)
    return out


# -- debian-faq: plain text, numbered headings --------------------------------------------
def _numbered_sections(text: str) -> list[tuple[str, str, int, int]]:
    """(number, heading, body start, body end) of each numbered section of DocBook plain text."""
    lines = text.splitlines(keepends=True)
    out: list[tuple[str, str, int, int]] = []
    pos = 0
    current: tuple[str, str, int] | None = None
    i = 0
    while i < len(lines):
        match = HEADING.match(lines[i].rstrip("\n"))
        if match:
            if current:
                out.append((*current, pos))
            title = [match.group(2).strip()]
            pos += len(lines[i])
            i += 1
            while i < len(lines) and lines[i].strip() and not lines[i].startswith(" "):
                title.append(lines[i].strip())
                pos += len(lines[i])
                i += 1
            current = (match.group(1), " ".join(title), pos)
            continue
        pos += len(lines[i])
        i += 1
    if current:
        out.append((*current, pos))
    return out


def _dedent(text: str) -> str:
    return textwrap.dedent(text).strip("\n") + "\n"


def debian_faq() -> Domain:
    path = next(fetch("debian-faq").rglob("debian-faq.en.txt.gz"))
    text = _text(path).replace("\u00a0", " ")
    start = text.index("\nChapter 1. ")  # after the table of contents
    entries, pieces = [], []
    for number, heading, s, e in _numbered_sections(text[start:]):
        body = _dedent(text[start + s : start + e])
        if len(body) < 40:
            continue
        if "?" in heading and number.count(".") == 1:
            entries.append(Entry(heading, f"faq-{number}.txt", body, path.name, start + s, start + e))
        else:
            pieces.append((f"faq-{number}.txt", f"{heading}\n\n{body}"))
    ref = _text(next(fetch("debian-reference-en").rglob("debian-reference.en.txt.gz"))).replace("\u00a0", " ")
    rstart = ref.index("\nChapter 1. ")
    for number, heading, s, e in _numbered_sections(ref[rstart:]):
        pieces.append((f"reference-{number}.txt", f"{heading}\n\n{_dedent(ref[rstart + s : rstart + e])}"))
    return Domain("debian-faq", entries, _budget(pieces))


# -- git-doc: AsciiDoc, `Question?::` definition lists ------------------------------------
_ADOC_SECTION = re.compile(r"^(\S[^\n]*)\n(-{3,}|={3,})\n", re.M)


def git_doc() -> Domain:
    root = fetch("git-doc") / "usr/share/doc/git-doc"
    path = root / "gitfaq.txt"
    text = path.read_text(encoding="utf-8")
    begin = text.index("\nConfiguration\n")
    finish = text.index("\nSEE ALSO\n") if "\nSEE ALSO\n" in text else len(text)
    items = list(re.finditer(r"^(\S[^\n]*)::\n", text[begin:finish], re.M))
    entries = []
    for n, m in enumerate(items):
        s = begin + m.end()
        e = begin + items[n + 1].start() if n + 1 < len(items) else finish
        section = _ADOC_SECTION.search(text, s, e)  # a section heading ends the entry
        anchor = re.search(r"^\[\[[^\]]+\]\]\n", text[s:e], re.M)  # the next item's anchor
        if section:
            e = section.start()
        if anchor:
            e = min(e, s + anchor.start())
        body = text[s:e].strip("\n") + "\n"
        entries.append(Entry(m.group(1).strip(), f"gitfaq-{n + 1:02d}.txt", body, path.name, s, e))
    pieces = [(p.name, p.read_text(encoding="utf-8")) for p in sorted(root.glob("*.txt")) if p.name != "gitfaq.txt"]
    return Domain("git-doc", entries, _budget(pieces))


# -- sqlite3-doc: HTML, `<p><b>(N) Question</b></p><blockquote>answer</blockquote>` ----------
def sqlite_doc() -> Domain:
    root = fetch("sqlite3-doc") / "usr/share/doc/sqlite3"
    path = root / "faq.html"
    text = path.read_text(encoding="utf-8")
    pattern = re.compile(r"<p><b>\((\d+)\)\s*(.*?)</b></p>\s*<blockquote>(.*?)</blockquote>", re.S)
    entries = []
    for m in pattern.finditer(text):
        question = " ".join(html.unescape(re.sub(r"<[^>]+>", "", m.group(2))).split())
        body = f"<html>\n<body>\n{m.group(3).strip()}\n</body>\n</html>\n"
        entries.append(Entry(question, f"faq-q{int(m.group(1)):02d}.html", body, path.name, m.start(3), m.end(3)))
    pieces = [(p.name, p.read_text(encoding="utf-8", errors="replace")) for p in sorted(root.glob("*.html"))
              if p.name not in ("faq.html", "index.html", "docs.html", "sitemap.html", "keyword_index.html")]
    return Domain("sqlite3-doc", entries, _budget(pieces, DISTRACTOR_CHARS * 3))  # HTML carries markup


# -- emacs-common: GNU Info, `N.M Title?` node headings --------------------------------------
_INFO_NODE = re.compile(r"\x1f\n(File: [^\n]*\n)")


def _info_nodes(text: str) -> list[tuple[str, int, int]]:
    """(heading, body start, body end) of each Info node with an underlined heading."""
    out = []
    nodes = list(_INFO_NODE.finditer(text))
    for n, node in enumerate(nodes):
        s, e = node.end(), nodes[n + 1].start() if n + 1 < len(nodes) else len(text)
        m = re.match(r"\n*(\S[^\n]*)\n([=*\-.]{3,})\n", text[s:e])
        if m:
            out.append((m.group(1).strip(), s + m.end(), e))
    return out


def emacs_common() -> Domain:
    root = fetch("emacs-common")
    path = root / "usr/share/info/emacs/efaq.info.gz"
    text = _text(path)
    entries, pieces = [], []
    for heading, s, e in _info_nodes(text):
        body = text[s:e].replace("\x1f", "").strip("\n") + "\n"
        number = re.match(r"(\d+(?:\.\d+)+) (.*)", heading)
        if number and heading.endswith("?"):
            entries.append(Entry(number.group(2), f"efaq-{number.group(1)}.txt", body, path.name, s, e))
        elif len(body) >= 200:
            pieces.append((f"efaq-{re.sub(r'[^A-Za-z0-9]+', '-', heading)[:60]}.txt", f"{heading}\n\n{body}"))
    transient = _text(root / "usr/share/info/emacs/transient.info.gz")
    for heading, s, e in _info_nodes(transient):
        pieces.append((f"transient-{re.sub(r'[^A-Za-z0-9]+', '-', heading)[:60]}.txt", f"{heading}\n\n{transient[s:e]}"))
    etc = next(root.glob("usr/share/emacs/*/etc"))
    for name in ("PROBLEMS", "DEBUG", "NEWS"):
        doc = (etc / name).read_text(encoding="utf-8", errors="replace")
        parts = re.split(r"(?m)^(?=\*\*\* )", doc)
        pieces += [(f"{name.lower()}-{n:04d}.txt", part) for n, part in enumerate(parts) if part.startswith("*** ")]
    return Domain("emacs-common", entries, _budget(pieces))


# -- off-topic questions: none of them is answered by any domain's documents ------------------
OFF_TOPIC = [
    "What is the capital of Australia?", "How many bones are in the adult human body?",
    "Who painted the ceiling of the Sistine Chapel?", "What is the boiling point of water at sea level in Fahrenheit?",
    "How do I bake sourdough bread?", "What causes the seasons on Earth?",
    "Who wrote the novel Pride and Prejudice?", "How long does it take light to reach Earth from the Sun?",
    "What is the offside rule in football?", "How do vaccines train the immune system?",
    "What is the tallest mountain in Africa?", "How do I change a flat tyre on a bicycle?",
    "What year did the Berlin Wall fall?", "Which planet has the most moons?",
    "How does photosynthesis work?", "What is the difference between a violin and a viola?",
    "How much caffeine is in a cup of espresso?", "What language is spoken in Brazil?",
    "How do I remove a red wine stain from a carpet?", "What is the speed of sound in air?",
    "Who was the first person to walk on the Moon?", "How do bees make honey?",
    "What is the population of Tokyo?", "How should I water a cactus?",
    "What is the main ingredient of guacamole?", "How do I tie a bowline knot?",
    "What is the largest ocean on Earth?", "When did the Roman Empire fall?",
    "How many players are on a basketball team on court?", "What does a cardiologist treat?",
    "How do I calculate compound interest on a savings account?", "What is the chemical symbol for gold?",
    "Why is the sky blue?", "What is the recommended daily intake of vitamin C?",
    "How are diamonds formed?", "What is the plot of Hamlet?",
    "How do I train a puppy to sit?", "What currency is used in Switzerland?",
    "How far is the Moon from the Earth?", "What is the difference between weather and climate?",
    "How do solar panels generate electricity?", "Who composed The Four Seasons?",
    "What is the longest river in South America?", "How do I make a paper airplane fly farther?",
    "What are the rules of chess castling?", "How many hours of sleep does a teenager need?",
    "What is the freezing point of seawater?", "How do volcanoes erupt?",
    "What is the national animal of Scotland?", "How do I prune a rose bush?",
]


def write_domain(out: Path, domain: Domain, off_topic: list[str]) -> dict[str, int]:
    folder = out / domain.name
    if folder.exists():
        shutil.rmtree(folder)
    corpus = folder / "corpus"
    corpus.mkdir(parents=True)
    files = {e.name: e.body for e in domain.entries}
    files.update({f"manual-{name}": body for name, body in domain.distractors.items()})
    for name, body in files.items():
        (corpus / name).write_text(body, encoding="utf-8")
    rng = random.Random(f"{SEED}-{domain.name}")
    order = list(range(len(domain.entries)))
    rng.shuffle(order)
    dev = set(order[: len(order) // 2])
    off = list(off_topic)
    rng.shuffle(off)
    # BEIR: documents as the loader reads them (HTML becomes its text), one id per file
    from rag.load import load_file

    (folder / "qrels").mkdir()
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as fh:
        for name in files:
            doc = load_file(corpus / name, corpus)
            fh.write(json.dumps({"_id": name, "title": "", "text": doc.text}, ensure_ascii=False) + "\n")
    with open(folder / "queries.jsonl", "w", encoding="utf-8") as fh:
        for n, e in enumerate(domain.entries):
            fh.write(json.dumps({"_id": f"q{n}", "text": e.question}, ensure_ascii=False) + "\n")
    for split in ("dev", "test"):
        chosen = [n for n in range(len(domain.entries)) if (n in dev) == (split == "dev")]
        with open(folder / "qrels" / f"{split}.tsv", "w", encoding="utf-8") as fh:
            fh.write("query-id\tcorpus-id\tscore\n")
            fh.writelines(f"q{n}\t{domain.entries[n].name}\t1\n" for n in chosen)
        with open(folder / f"qa-{split}.jsonl", "w", encoding="utf-8") as fh:
            for n in chosen:
                e = domain.entries[n]
                row = {"question": e.question, "answers": [], "sources": [e.name], "answerable": True,
                       "entry": {"source": e.name, "origin": e.origin, "start": e.start, "end": e.end}}
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            for q in off[:5] if split == "dev" else off[5:10]:
                fh.write(json.dumps({"question": q, "answers": [], "sources": [], "answerable": False}) + "\n")
    return {"questions": len(domain.entries), "dev": len(dev), "files": len(files),
            "chars": sum(len(b) for b in files.values())}


def write_articles(out: Path, off_topic: list[str]) -> dict[str, int]:
    """The repository's corpus with its two question sets: qa.jsonl (tuned on: dev) and the
    independent set (report only: test), each plus 5 off-topic questions."""
    folder = out / "articles"
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(REPO / "corpus", folder / "corpus", ignore=shutil.ignore_patterns(".*"))
    for split, source in (("dev", "qa.jsonl"), ("test", "qa_articles_independent.jsonl")):
        lines = (REPO / "tests" / "data" / source).read_text(encoding="utf-8").splitlines()
        extra = off_topic[:5] if split == "dev" else off_topic[5:10]
        lines += [json.dumps({"question": q, "answers": [], "sources": [], "answerable": False}) for q in extra]
        (folder / f"qa-{split}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"files": sum(1 for p in (folder / "corpus").rglob("*") if p.is_file())}


BUILDERS = {"debian-faq": debian_faq, "git-doc": git_doc, "sqlite3-doc": sqlite_doc, "emacs-common": emacs_common}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "data" / "suite")
    parser.add_argument("--domains", nargs="*", default=[*BUILDERS, "articles"])
    args = parser.parse_args()
    off = list(OFF_TOPIC)
    random.Random(SEED).shuffle(off)
    for n, name in enumerate(args.domains):
        pool = off[10 * n : 10 * n + 10]  # ten of their own per domain
        info = write_articles(args.out, pool) if name == "articles" else write_domain(args.out, BUILDERS[name](), pool)
        print(f"{name}: {info}")


if __name__ == "__main__":
    main()
