"""What a chosen sentence is quoted with (the extractive answerer's last steps): the sentence
after it in its paragraph, the one it refers back to, the one it goes on from, or the next one
when the two score higher together. Every span stays an exact span of its source."""

from __future__ import annotations

from dataclasses import replace

from rag.answer.quotes import Candidate, clashes, in_lead, just_before, overlaps
from rag.answer.units import goes_on, introduced_block, refers_back
from rag.text import blocks
from rag.types import Hit


def continued(chosen: list[Candidate], cands: list[Candidate], hits: list[Hit],
              leads: dict[str, frozenset[str]], steps: int = 1) -> list[Candidate]:
    """The chosen sentences, and the one that follows the best in its paragraph (what the best
    says goes on there: "It is akin to a gourmet restaurant..." after how users reach closed
    models). A rule, no constant: dev (`python bench/followups.py --split dev`, with `--qa` of
    each conversation set): conversations all facts 11 -> 13 of 19, the old follow-up set
    12 -> 13 of 16, conversations_fresh2 4 -> 5 of 13; every single-question dev half
    unchanged (25 of their 141 answers gain a sentence). A last sentence that ends in ":" brings
    the indented block under it (read by hand on perl-faq, held out: "How can I remove leading
    and trailing whitespace?" quoted "You can do that with a pair of substitutions:" without
    them); the reader dev halves unchanged. (Joining such blocks to their sentence for scoring
    instead cost debian-faq's dev half one right entry, 67 -> 65 %.)

    A question for how a thing works goes on for up to `steps` sentences (rag.shape.asks_steps)."""
    best = chosen[0]
    chunk = hits[best.hit_rank].chunk
    tail = best
    for _ in range(steps):
        if tail.text.rstrip().endswith(":"):
            break
        at = tail.end - chunk.start
        block_end = next((e for s, e in blocks(chunk.text) if s < at <= e), at)
        after = [c for c in cands if c.hit_rank == best.hit_rank and at <= c.start - chunk.start < block_end
                 and not chunk.text[at:c.start - chunk.start].strip()]
        nxt = min(after, key=lambda c: (c.start, c.end)) if after else None
        if nxt is None or clashes(nxt, chosen, hits) or in_lead(chunk, leads):
            return chosen  # (a lead goes on with more introduction: as `select`'s passage bonus)
        chosen, tail = [*chosen, nxt], nxt
    # a sentence ending in ":" goes on with the indented block it introduces ("You can do that
    # with a pair of substitutions:" and the code under it), which is no sentence to score
    block = introduced_block(chunk.text, tail.end - chunk.start) if tail.text.rstrip().endswith(":") else None
    if block:
        s, e = block
        chosen = [*chosen, replace(tail, start=chunk.start + s, end=chunk.start + e, text=chunk.text[s:e])]
    return chosen


def with_referent(chosen: list[Candidate], cands: list[Candidate], hits: list[Hit],
                  leads: dict[str, frozenset[str]]) -> list[Candidate]:
    """The chosen sentences, the first of them with the sentence before it when it starts by
    referring back to it ("These systems can be studied..." says what systems only after
    "Open source AI refers to models whose code ... are publicly available."): the unit that
    joins the two (rag.answer.units), unless that sentence opens its document (the lead
    an answer should not quote). A rule, no constant; round 9, read by hand. Dev (`python
    bench/reader_sets.py --split dev`): every figure unchanged, 3 answers start with the
    sentence referred to ("When code and model weights are open, ... This "many eyes"
    approach ..."); the FAQ dev halves unchanged (`python bench/run_suite.py --split dev`)."""
    best = chosen[0]
    chunk = hits[best.hit_rank].chunk
    if not refers_back(best.text) or in_lead(chunk, leads):
        return chosen
    whole = next((c for c in cands if c.hit_rank == best.hit_rank and c.end == best.end and c.start < best.start), None)
    if whole is None:
        return chosen
    whole = replace(whole, score=best.score)
    return [whole, *(c for c in chosen[1:] if not overlaps(c, whole, hits[c.hit_rank].chunk.source == chunk.source))]


def led_in(chosen: list[Candidate], cands: list[Candidate], hits: list[Hit]) -> list[Candidate]:
    """The chosen sentences, each that goes on from the sentence before it ("Moreover, your
    license ... is reinstated permanently if ...", "Conversely, closed-source API costs can
    scale ...") with that sentence before it, even across a paragraph break, when it is not
    chosen: an answer quotes the case or the contrast it adds to, not half an argument (read
    by hand: "can I get my GPL license back?" quoted the "Moreover" case without the one
    before it, which has the 60 days). A rule, no constant; round 14, dev (`python
    bench/reader_sets.py --split dev`, with the quotes' reading order of rag.answer.quotes):
    facts 208.8 -> 209.5 (the GPL question "can I get my license back, and how?" 1 -> 3 of 3),
    every other figure unchanged; 9 answers change, 7 now quote the paragraph before a
    "Moreover" or "Conversely" first."""
    out: list[Candidate] = []
    for cand in chosen:
        chunk = hits[cand.hit_rank].chunk
        before = [c for c in cands if hits[c.hit_rank].chunk.source == chunk.source
                  and just_before(c, cand, hits[c.hit_rank].chunk, chunk)] if goes_on(cand.text) else []
        lead_in = max(before, key=lambda c: c.end - c.start, default=None)
        if lead_in is not None and not clashes(lead_in, [*out, *chosen], hits):
            out.append(replace(lead_in, score=cand.score))
        out.append(cand)
    return out


def extended(chosen: list[Candidate], pairs: list[Candidate], hits: list[Hit]) -> list[Candidate]:
    """The chosen sentences, each as the sentence with the next one in its paragraph when that
    pair scores higher than the sentence alone (and clashes with no other chosen one): "The
    second pillar is economic." names the argument that "Developing cutting-edge AI requires
    immense computational resources ..." makes. The sentences are chosen alone (`choose`): a
    pair, holding more words, would outrank a single sentence of another document that
    answers. A rule, no constant; round 15, see rag.answer.units.pairs_of."""
    out = list(chosen)
    for i, cand in enumerate(chosen):
        if refers_back(cand.text):
            continue  # (`with_referent` reads it with the sentence before it instead)
        pair = max((p for p in pairs if p.hit_rank == cand.hit_rank and p.start == cand.start and p.score > cand.score),
                   key=lambda p: p.score, default=None)
        if pair is not None and not clashes(pair, [c for c in out if c is not cand], hits):
            out[i] = pair
    return out
