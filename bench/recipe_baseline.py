"""The baseline issue 9 measured against: a 30-line recipe over the same suite, so that "right
entry cited" can be compared with what the simplest thing does.

    python bench/recipe_baseline.py [bench/data/suite] [--domains ...] [--k 5] [--json]

The recipe: every corpus file (as the project's loader reads it) is cut into chunks of 4
non-blank lines, embedded with the same all-MiniLM-L6-v2; for a question, the k most similar
chunks are split into sentences (at ". ", "! ", "? "), the sentences are embedded, and the answer
is the 3 sentences most similar to the question; it "cites the right entry" when one of them
comes from the question's entry file. It never abstains. Chunk vectors are cached under
bench/data/recipe/."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.embed import Embedder
from rag.errors import LoadError
from rag.evaluate import load_qa
from rag.load import load_corpus

HERE = Path(__file__).resolve().parent
DOMAINS = ("debian-faq", "git-doc", "sqlite3-doc", "emacs-common", "python-faq", "perl-faq", "zsh-faq")
LINES = 4  # lines a chunk (the recipe as the issue describes it)
ANSWER_SENTENCES = 3


def chunks_of(corpus: Path) -> list[tuple[str, str]]:
    """(source, text) chunks of LINES non-blank lines each, for every loadable file."""
    out = []
    for doc in load_corpus(corpus):
        if isinstance(doc, LoadError):
            continue
        lines = [line.strip() for line in doc.text.splitlines() if line.strip()]
        out += [(doc.source, " ".join(lines[i : i + LINES])) for i in range(0, len(lines), LINES)]
    return out


def right_share(embedder: Embedder, chunks: list[tuple[str, str]], vectors: np.ndarray, items: list, k: int) -> float:
    right = 0
    for item in items:
        q = np.asarray(embedder.embed_query(item.question))
        top = np.argsort(-(vectors @ q))[:k]
        sentences = [(chunks[i][0], s) for i in top for s in re.split(r"(?<=[.!?])\s+", chunks[i][1])
                     if len(s.split()) >= 3]
        if not sentences:
            continue
        scores = np.asarray(embedder.embed_documents([s for _src, s in sentences])) @ q
        best = np.argsort(-scores)[:ANSWER_SENTENCES]
        right += item.entry in {sentences[i][0] for i in best}
    return right / len(items) if items else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suite", type=Path, nargs="?", default=HERE / "data" / "suite")
    parser.add_argument("--domains", nargs="*", default=list(DOMAINS))
    parser.add_argument("--k", type=int, default=5, help="chunks whose sentences are ranked")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    embedder = Embedder()
    cache = HERE / "data" / "recipe"
    cache.mkdir(parents=True, exist_ok=True)
    rows = []
    for domain in args.domains:
        chunks = chunks_of(args.suite / domain / "corpus")
        path = cache / f"{domain}.npy"
        if path.exists() and len(np.load(path)) == len(chunks):
            vectors = np.load(path)
        else:
            vectors = np.asarray(embedder.embed_documents([t for _s, t in chunks]))
            np.save(path, vectors)
        for split in ("dev", "test"):
            items = [i for i in load_qa(args.suite / domain / f"qa-{split}.jsonl") if i.answerable and i.entry]
            rows.append({"domain": domain, "split": split, "questions": len(items),
                         "entry_cited": round(right_share(embedder, chunks, vectors, items, args.k), 3)})
            print(f"{domain} {split}: {rows[-1]['entry_cited']:.0%} of {len(items)}", file=sys.stderr)
    print(json.dumps(rows, indent=1) if args.json else
          "\n".join(f"{r['domain']:<13} {r['split']:<5} {r['questions']:>4} {100 * r['entry_cited']:>4.0f}%" for r in rows))


if __name__ == "__main__":
    main()
