"""Checking an LLM's reply against the passages it was given: markers that point to no
passage are removed, the rest renumbered 1..n, a sentence without a marker gets the passage
that supports it, and sentences that no passage supports are removed (and listed)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from rag.answer import NOT_COVERED, Draft, abstention
from rag.answer.reply import (
    is_title,
    markers_at_sentence_end,
    of_the_prompt,
    without_lead_ins,
    without_titles,
)
from rag.citations import (
    SENTENCE_BREAK,
    cited_sentences,
    first_appearance,
    markers_in,
    normalize_markers,
    prune_markers,
    renumber,
    supported,
    word_overlap,
)
from rag.lexical import tokenize
from rag.text import BULLET, MARKER, sentence_spans
from rag.types import Citation, Hit


class Similarity:
    """Cosine similarity with the embedder, caching vectors (encode one batch up front)."""

    def __init__(self, embedder: Any) -> None:
        self.embedder = embedder
        self.vectors: dict[str, np.ndarray] = {}

    def add(self, texts: Sequence[str]) -> None:
        new = [t for t in dict.fromkeys(texts) if t not in self.vectors]
        if new:
            self.vectors.update(zip(new, np.asarray(self.embedder.encode(new)), strict=True))

    def __call__(self, claim: str, texts: Sequence[str]) -> list[float]:
        self.add([claim, *texts])
        q = self.vectors[claim]
        return [float(self.vectors[t] @ q) for t in texts]


# the answer abstains when more than this share of its words is in unsupported sentences
# ("when most of the answer is unsupported", issue 10): the words (ff10147), tuned on no
# split. The other numbers of this module were set by hand, tuned on no split either: a claim of
# fewer than 3 words gets no marker (a6cd030); a clause of at least 4 words may support a claim
# (822bd27, after two false refusals of qwen-1.5b on qa.jsonl); a passage ranks by its best
# sentence's cosine + 0.5 x word overlap (a6cd030), a citation's quote by the same among its
# sentences of at least 3 words, kept at cosine >= 0.3 or overlap >= 0.5 (18527f0). What they
# decide is re-measured by `rag eval --answerer llm --qa tests/data/qa.jsonl` (abstentions,
# citation support, `unsupported`) and `RAG_ANSWERER=llm python bench/run_suite.py --split dev`.
MAX_UNSUPPORTED = 0.5


def check(reply: str, hits: Sequence[Hit], embedder: Any, question: str = "") -> Draft:
    """Turn the model's full reply into the Draft: markers pointing to no passage removed; a
    sentence without a marker cites the passage that supports it, if any; sentences that no
    cited passage supports removed from the text and listed in `unsupported` (abstaining when
    they are most of the reply), and so are sentences that only restate `question`
    (`restates`); markers renumbered 1..n by first appearance, each with one citation."""
    if not reply.strip():
        return abstention()
    text = prune_markers(normalize_markers(without_titles(reply.strip(), hits)), set(range(1, len(hits) + 1)))
    text = without_lead_ins(markers_at_sentence_end(text))
    sim = Similarity(embedder)
    text = attach_markers(text, hits, sim)
    text, unsupported = drop_unsupported(text, hits, sim, question)
    kept_words = len(MARKER.sub("", text).split())
    dropped_words = sum(len(c.split()) for c in unsupported)
    if not kept_words or dropped_words > MAX_UNSUPPORTED * (kept_words + dropped_words):
        return Draft(NOT_COVERED, (), True, tuple(unsupported))
    mapping = first_appearance(text)  # passage number -> citation marker
    text = renumber(text, mapping).strip()
    claims = cited_sentences(text)
    citations = []
    for old, new in mapping.items():
        hit = hits[old - 1]
        own = [c for c, marks in claims if new in marks]
        start, end, score = _span(own, hit.chunk.text, sim)
        c = hit.chunk
        citations.append(Citation(new, c.source, c.section, c.text[start:end], c.start + start,
                                  c.start + end, score, c.text, c.start))
    return Draft(text, tuple(citations), False, tuple(unsupported))


def drop_unsupported(text: str, hits: Sequence[Hit], sim: Similarity, question: str = "") -> tuple[str, list[str]]:
    """The text without the sentences that no piece supports, that only restate the question or
    only name a piece's section, and those sentences (without markers); and without those that
    speak of the passages (not listed: they claim nothing of the documents). A sentence that the
    pieces it cites do not support cites the closest piece that does, if one does."""
    parts = SENTENCE_BREAK.split(text)
    texts = [h.chunk.text for h in hits]
    sim.add(texts + [t[s:e] for t in texts for s, e in sentence_spans(t)])
    kept: list[str] = []
    unsupported: list[str] = []
    for i in range(0, len(parts), 2):
        sentence = parts[i]
        claim = MARKER.sub("", sentence).strip()
        if not claim:
            continue
        if of_the_prompt(claim, hits):
            continue  # (no claim about the documents: not counted against the reply)
        if restates(claim, question) or is_title(claim, hits):
            unsupported.append(claim)
            continue
        cited = [m - 1 for m in dict.fromkeys(markers_in(sentence)) if 1 <= m <= len(texts)]
        if not (cited and supports(claim, [texts[j] for j in cited], sim, [label(hits[j]) for j in cited])):
            # models misnumber: qwen-1.5b cited [2] for a sentence it copied from [1]
            # (bench/ask_latency.py, qa.jsonl); the piece that does support it gets the marker
            best = supporting_piece(claim, hits, sim)
            if best is None:
                unsupported.append(claim)
                continue
            sentence = _remark(sentence, best + 1)
        kept += [sentence, parts[i + 1] if i + 1 < len(parts) else ""]
    return "".join(kept).strip(), unsupported


# words a restatement may add to the question's: its yes or no, and the speaker turned round
# ("Am I allowed to sell copies?" -> "Yes, you are allowed to sell copies"). English grammar, not tuned.
_RESTATED = frozenset(["yes", "no", "not", "true", "false", "correct", "i", "me", "my", "mine", "myself",
                       "you", "your", "yours", "yourself", "we", "us", "our"])


def restates(claim: str, question: str) -> bool:
    """Whether every content word of the claim is the question's (or yes, no, a pronoun): "Yes,
    the Apache License grants patent rights" says nothing the question did not, except its yes
    or no, which a check of words and similarity cannot verify. On the dev halves of qa.jsonl,
    qa_paraphrase.jsonl and qa_related.jsonl, 10 of qwen-1.5b's replies were such a yes; 6 were
    wrong ("Yes, there is a warranty for programs released under the GPL": the GPL says there is
    none; "Yes, open source means a model is unsafe", which the check let through before)."""
    words = set(tokenize(claim)) - _RESTATED
    return bool(question) and words <= set(tokenize(question))


def label(hit: Hit) -> str:
    """What names a piece besides its text, for the names check: its section title (the model
    reads it before the piece) and its file's name ("GPL" in a sentence that cites a piece of
    gnu-gpl-3.0.txt names the document the piece is from). qa_related.jsonl's dev half:
    "Yes, if you violate the GPL, you can get your license back permanently if..." copied the
    GPL's "Termination" section, which says "this License", and was removed for "GPL"."""
    return f"{hit.chunk.section} {hit.chunk.source}"


def supporting_piece(claim: str, hits: Sequence[Hit], sim: Similarity) -> int | None:
    """The index of the piece that supports the claim on its own, or None: the closest of the
    pieces that hold the claim's names and numbers, so that one piece is tested, not each in
    turn. Not the closest of all: "The MiniLM sentence embeddings have 384 dimensions" is closest
    to the model card's usage example, and the piece that says "384 dimensional" is another
    (qa_related.jsonl's dev half, qwen-1.5b)."""
    texts = [h.chunk.text for h in hits]
    named = [j for j in range(len(hits)) if names_found(claim, [texts[j]], [label(hits[j])])]
    if not named:
        return None
    best = named[_by_closeness(claim, [texts[j] for j in named], sim)[0]]
    return best if supports(claim, [texts[best]], sim, [label(hits[best])]) else None


def _remark(sentence: str, marker: int) -> str:
    """The sentence citing only `marker`, where its first marker was (else at its end)."""
    if not MARKER.search(sentence):
        return sentence.rstrip() + f" [{marker}]"
    first = MARKER.search(sentence)
    assert first is not None
    head, tail = sentence[: first.start()], MARKER.sub("", sentence[first.start():])
    return f"{head} [{marker}]{tail}"


_CLAUSE_BREAK = re.compile(r"(?<=[,;:])\s+")


def supports(claim: str, pieces: Sequence[str], sim: Similarity, labels: Sequence[str] = ()) -> bool:
    """`rag.citations.supported`, where a claim may also restate one clause of a long sentence:
    "Bad actors could repurpose models for generating disinformation" is 0.56 similar to the
    whole 40-word sentence it restates (qa.jsonl, qwen-1.5b), under the 0.6 bar. And every
    name and number of the claim is in one of the pieces or their `labels` (`label`)."""
    if not names_found(claim, pieces, labels):
        return False
    clauses = [c for p in pieces for c in _CLAUSE_BREAK.split(p) if len(c.split()) >= 4]
    return supported(claim, [*pieces, *clauses], sim)


_WORD = re.compile(r"\w+")


def names_found(claim: str, pieces: Sequence[str], labels: Sequence[str] = ()) -> bool:
    """Whether each name (a capitalised word that does not start the claim or its list item and
    is not a stop word) and each number of the claim occurs in `pieces`, in any case: a sentence can be
    close in meaning to a passage and still say what no passage says ("... in Paris", an
    off-topic answer of a local model that passed the similarity check, issue 21). A name may
    also be in `labels` (the pieces' `label`), a number not ("2.0" of apache-license-2.0.txt is
    no version the text states)."""
    return not missing_names(claim, pieces, labels)


def missing_names(claim: str, pieces: Sequence[str], labels: Sequence[str] = ()) -> list[str]:
    """The names and numbers of the claim (as names_found reads them) that no piece holds."""
    words = _WORD.findall(BULLET.sub("", claim, count=1))[1:]
    text = " ".join(pieces)
    known, numbers = set(tokenize(" ".join([text, *labels]))), set(_WORD.findall(text))
    return [w for w in words if (w[0].isupper() and not set(tokenize(w)) <= known)
            or (w[0].isdigit() and w not in numbers)]


def rejection(claim: str, hits: Sequence[Hit], sim: Similarity) -> str:
    """Why no piece supports `claim`, for bench/llm_evidence.py: the names or numbers no piece
    holds, else the closest piece's similarity and word overlap."""
    texts = [h.chunk.text for h in hits]
    missing = missing_names(claim, texts, [label(h) for h in hits])
    if missing:
        return "not in the evidence: " + ", ".join(missing)
    named = [j for j in range(len(hits)) if names_found(claim, [texts[j]], [label(hits[j])])]
    if not named:
        return "names in no one piece"
    best = named[_by_closeness(claim, [texts[j] for j in named], sim)[0]]
    if missing:
        return f"not in piece {best + 1}: " + ", ".join(missing)
    sentences = [texts[best][s:e] for s, e in sentence_spans(texts[best])] or [texts[best]]
    clauses = [c for p in sentences for c in _CLAUSE_BREAK.split(p) if len(c.split()) >= 4]
    return (f"piece {best + 1}: similarity {max(sim(claim, [*sentences, *clauses, texts[best]])):.2f}, "
            f"overlap {word_overlap(claim, texts[best]):.2f}")


def _by_closeness(claim: str, texts: Sequence[str], sim: Similarity) -> list[int]:
    """The pieces' indexes, closest to the claim first, by their best sentence and word overlap."""
    scores = []
    for t in texts:
        sentences = [t[s:e] for s, e in sentence_spans(t)] or [t]
        scores.append(max(sim(claim, sentences)) + 0.5 * word_overlap(claim, t))
    return [int(i) for i in np.argsort(scores, kind="stable")[::-1]]


def attach_markers(text: str, hits: Sequence[Hit], sim: Similarity) -> str:
    """Give each sentence that has no marker the marker of the closest piece that supports it,
    when one does (small models often forget to cite)."""
    parts = SENTENCE_BREAK.split(text)
    if all(MARKER.search(p) for p in parts[::2] if p.strip()):
        return text
    texts = [h.chunk.text for h in hits]
    sim.add(texts + [t[s:e] for t in texts for s, e in sentence_spans(t)])
    for i in range(0, len(parts), 2):
        claim = parts[i].strip()
        if not claim or MARKER.search(claim) or len(claim.split()) < 3:
            continue
        best = supporting_piece(claim, hits, sim)
        if best is not None:
            parts[i] = parts[i].rstrip() + f" [{best + 1}]"
    return "".join(parts)


def _span(claims: Sequence[str], text: str, sim: Similarity) -> tuple[int, int, float]:
    """(start, end, score) in `text` of the sentences that best match the claims; the whole
    passage when none matches."""
    spans = [(s, e) for s, e in sentence_spans(text) if len(text[s:e].split()) >= 3] or sentence_spans(text)
    chosen: list[tuple[int, int]] = []
    best = 0.0
    for claim in claims:
        if not spans:
            break
        sims = sim(claim, [text[s:e] for s, e in spans])
        scores = [cos + 0.5 * word_overlap(claim, text[s:e]) for cos, (s, e) in zip(sims, spans, strict=True)]
        i = int(np.argmax(scores))
        if sims[i] >= 0.3 or word_overlap(claim, text[spans[i][0]:spans[i][1]]) >= 0.5:
            chosen.append(spans[i])
            best = max(best, sims[i])
    if not chosen:
        stripped = text.strip()
        start = text.index(stripped) if stripped else 0
        return start, start + len(stripped), best
    return min(s for s, _ in chosen), max(e for _, e in chosen), best
