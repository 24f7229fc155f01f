"""The extractive answerer's term weights: the IDF of the indexed chunks, weighted shares of a
question's terms, and the terms a document's name already says."""

from __future__ import annotations

import math
import re
from pathlib import PurePath

from rag.lexical import bm25_tokens, name_tokens, tokenize


def idf_table(chunk_texts: list[str]) -> dict[str, float]:
    df: dict[str, int] = {}
    for text in chunk_texts:
        for t in set(tokenize(text)):
            df[t] = df.get(t, 0) + 1
    n = len(chunk_texts)
    return {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}


def name_terms(source: str) -> frozenset[str]:
    """The terms of a document's file name ("apache", "licens" for related/apache-license-2.0.txt):
    every sentence of the document holds them, as if written in it. Within the document they
    tell no sentence apart, so boilerplate that repeats the document's name ("Licensed under the
    Apache License") no longer outranks the sentence about what is asked, while another
    document's sentences still lack them. Chosen on the dev halves: `python bench/run_suite.py
    --split dev`, the same with `--qa tests/data/qa_related.jsonl`, and `python
    bench/followups.py --split dev`: related right file with all facts 46 -> 50 %, facts 54 ->
    56 %, follow-ups' fact recall 0.342 -> 0.368; the FAQ domains and the articles unchanged.
    (Giving the name terms no weight in the named document instead scored the same there but
    let another document's sentence holding "license" outrank the named one's: the follow-up
    test's "Who counts as a Contributor under the Apache License?" cited the GPL.)"""
    return frozenset(tokenize(PurePath(source).stem.replace("_", " ")))


def named_sources(names: dict[str, frozenset[str]], terms: set[str], idf: dict[str, float]) -> set[str]:
    """The documents a question names: of those whose file-name terms (`names`) it holds, the
    ones whose held name terms weigh most (summed `idf`); none when it holds none. "Is a GPL
    license needed?" names the GPL ("gpl" is rarer than "license", which names the Apache file)."""
    held = {src: sum(idf.get(t, 0.0) for t in name & terms) for src, name in names.items()}
    top = max(held.values(), default=0.0)
    return {src for src, w in held.items() if w > 0 and w >= top} if top > 0 else set()


def share(weights: dict[str, float], found: set[str]) -> float:
    """The weighted share of the terms that `found` holds."""
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in found) / total if total > 0 else 0.0


def redundant(a: str, b: str) -> bool:
    """Two texts that say nearly the same: over 70 % of the shorter one's terms are in the other
    (a rule of thumb, not tuned; both answerers keep only one of such a pair)."""
    ta, tb = set(tokenize(a)), set(tokenize(b))
    return bool(ta and tb) and len(ta & tb) / min(len(ta), len(tb)) > 0.7


# A question that asks for an amount, and the numbers that answer one (English grammar, not
# tuned). With the mean confidence rule (rag.settings.ABSTAIN_THRESHOLD) on-topic questions for a
# figure the documents do not give were answered with quotes that name none; on the dev halves
# this rule refuses them and no answerable question (bench/followups.py --split dev,
# `python bench/tune_answer.py --split dev`).
_AMOUNT_ASKED = re.compile(r"\bhow (much|many|long|old)\b|\bwhat (year|percentage)\b|\bin (dollars|euros)\b", re.I)
_NUMBER = re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|twelve|twenty|thirty|forty|fifty|"
                     r"hundreds?|thousands?|millions?|billions?|dozens?)\b", re.I)


def unanswered_amount(question: str, quotes: list[str]) -> bool:
    """A question for an amount ("how much does it cost?") whose quotes name none."""
    return bool(_AMOUNT_ASKED.search(question)) and not any(_NUMBER.search(q) for q in quotes)


def without_terms(question: str, terms: set[str]) -> str:
    """The question's words less those whose terms are `terms`; "" when no key word is left."""
    kept = [w for w in question.split() if not set(tokenize(w)) & terms]
    return " ".join(kept) if any(tokenize(w) for w in kept) else ""


_FIELD_KEY = re.compile(r"^([A-Za-z_][\w-]*):")


def unit_title(section: str, chunk_text: str, unit: str) -> str:
    """What the unit's part of the document is called: its section title; for a field of a
    Markdown file's YAML front matter (which has no title), the field's key ("license")."""
    key = _FIELD_KEY.match(unit) if chunk_text.startswith("---\n") else None
    return key.group(1).replace("_", " ") if key else section


def title_share(question: str, title: str, source: str) -> float:
    """The share of the question's terms (Snowball-stemmed, as BM25 reads them; the document's
    own name terms left out: every part of the Apache licence is about the "license") that the
    title of the unit's part holds: "warranty" in "Disclaimer of Warranty", "trained" in
    "Training data", "license" in a model card's `license:` field."""
    terms = set(bm25_tokens(question)) - name_tokens(source)
    return len(terms & set(bm25_tokens(title))) / len(terms) if terms else 0.0
