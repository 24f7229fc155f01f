"""How well each sentence of the retrieved passages answers a question: the one scorer both
answerers read. The extractive answerer quotes its best sentences, the llm answerer's evidence is
made of them, and its confidence is the one abstention rule (the llm answerer's gate applies it
too). One instance per knowledge base (rag.components), so a question's sentences are scored once
however many of them ask, and each passage sentence is embedded once."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import PurePath
from typing import TYPE_CHECKING, Protocol

import numpy as np

from rag.answer.amounts import NAME_PENALTY, initialisms, unheld_figure, unknown_name
from rag.answer.followup import Vocabulary, vocabulary
from rag.answer.layout import front_matter, table_headers
from rag.answer.memo import Memo, VectorCache
from rag.answer.parts import back_matter
from rag.answer.quotes import Candidate, in_lead, leads
from rag.answer.terms import (
    BACK_PENALTY,
    TITLE_WEIGHT,
    UNNAMED_PENALTY,
    NoIndex,
    TermIndex,
    document_reference,
    idf_table,
    name_terms,
    named_sources,
    share,
    title_share,
    unit_title,
    without_terms,
)
from rag.answer.units import answer_units, pairs_of, paragraph_opening, passage_units, scored_context
from rag.answer.weights import (
    FOCUS_WEIGHT,
    GENERIC_SHARE,
    LEAD_PENALTY,
    LEXICAL_WEIGHT,
    PASSAGE_WEIGHT,
    TOPIC_IDF,
)
from rag.lexical import tokenize
from rag.references import is_pointer
from rag.settings import ABSTAIN_THRESHOLD
from rag.shape import (
    DEFINITION_PENALTY,
    POLAR,
    SHAPE_WEIGHT,
    asked,
    defines,
    fit,
    kinds_of,
)
from rag.text import QUESTION_WORDS
from rag.types import Hit

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

# English question words, auxiliaries, request verbs and pronouns: they say that something is asked, not
# what about, so they are no key terms (grammar, not tuned). Nouns that also ask ("list", "name",
# "key", "example", "mean") were on this list until a sweep of the suite's dev halves showed
# them costing answers (`user.name`, an <Escape> key): false abstentions git-doc 1 -> 0 of 10,
# emacs-common 2 -> 1 of 62, nothing else changed.
_QUESTION_WORDS = frozenset(
    tokenize(" ".join(QUESTION_WORDS) + " explain describe tell me about give it its they them their this that these those"
             # asking whether a claim holds: "is that true for Llama too?", "is it really safer?" (round
             # 10, from the example; every reader and FAQ dev figure unchanged)
             " true really actually"
             # what the question asks of a document, not about: "What does the Defining Divide
             # article say open source AI emphasises?" held "article" and "say", which no sentence
             # holds, so the lead's penalty (below) was two thirds of itself for the sentence that
             # answers, "Open source AI emphasizes transparency, ..." (round 19; dev, `python
             # bench/reader_sets.py --split dev`: totals unchanged, 16 answers changed, most by a
             # sentence less; the FAQ dev halves unchanged, `python bench/run_suite.py --split dev`)
             " say says said according article articles piece")
)


class Encoder(Protocol):
    """What the scorer needs of an embedder (rag.embed.Embedder is one)."""

    def embed_query(self, text: str) -> list[float]: ...

    def encode(self, texts: list[str]) -> ArrayLike: ...


class SentenceScorer:
    """Scores the answer units (sentences, list items, table rows) of retrieved passages for a
    question (`candidates`), and says whether the knowledge base answers it (`confidence`)."""

    def __init__(
        self,
        embedder: Encoder,
        lexical: TermIndex | None = None,
        threshold: float = ABSTAIN_THRESHOLD,
        lexical_weight: float = LEXICAL_WEIGHT,  # (rag.answer.weights: these three, where chosen)
        passage_weight: float = PASSAGE_WEIGHT,
        generic_share: float = GENERIC_SHARE,
        lead_penalty: float = LEAD_PENALTY,
        focus_weight: float = FOCUS_WEIGHT,
        shape_weight: float = SHAPE_WEIGHT,
        unnamed_penalty: float = UNNAMED_PENALTY,
        back_penalty: float = BACK_PENALTY,
        title_weight: float = TITLE_WEIGHT,
        definition_penalty: float = DEFINITION_PENALTY,
    ) -> None:
        self.definition_penalty = definition_penalty
        self.unnamed_penalty = unnamed_penalty
        self.embedder = embedder
        self.focus_weight = focus_weight
        self.shape_weight = shape_weight
        # the BM25 index: its chunks give the IDF of the question's terms
        self.lexical: TermIndex = lexical if lexical is not None else NoIndex()
        self.threshold = threshold
        self.lexical_weight = lexical_weight
        self.passage_weight = passage_weight
        self.generic_share = generic_share
        self.lead_penalty = lead_penalty
        self.idf: dict[str, float] = {}
        # a term no chunk has weighs most: one more than the rarest (1.0 without chunks); a rule, not tuned
        self.unseen_idf = 2.0
        self._idf_version: str | None = None
        self.leads: dict[str, frozenset[str]] = {}  # the lead sections of each document that has one
        self.back: dict[str, int] = {}  # where each document's back matter starts
        self.headers: dict[tuple[str, int], str] = {}  # the header of each continued table (table_headers)
        self.documents: list[str] = []  # the indexed documents, as they are listed (by path)
        self.initials: frozenset[str] = frozenset()  # of the indexed text (rag.answer.amounts.initialisms)
        self._vocabulary: Vocabulary | None = None  # (follow_up_words)
        self.back_penalty = back_penalty
        self.title_weight = title_weight
        self.sentence_vectors = VectorCache(embedder.encode)  # passage sentences, each embedded once
        self._scored: Memo[list[Candidate]] = Memo()  # the last questions' scored sentences

    def refresh_idf(self) -> None:
        """IDF of every term of the indexed chunks, recomputed when the index changed."""
        self.lexical.refresh()
        if self.lexical.version != self._idf_version:
            self.idf = idf_table([c.text for c in self.lexical.chunks])
            self.leads = leads(self.lexical.chunks)
            self.back = back_matter(self.lexical.chunks)
            self.headers = table_headers(self.lexical.chunks)
            self.documents = sorted({c.source for c in self.lexical.chunks})
            self.initials = initialisms(c.text for c in self.lexical.chunks)
            self._vocabulary = None
            self.unseen_idf = max(self.idf.values(), default=1.0) + 1.0
            self._idf_version = self.lexical.version

    def follow_up_words(self) -> Vocabulary:
        """What the indexed documents' words say about follow-ups (rag.answer.followup.vocabulary),
        read once per index version, at the first follow-up: a question alone never needs it."""
        self.refresh_idf()
        if self._vocabulary is None:
            common = {t for d in self.documents for t in name_terms(d) if self.idf_of(t) <= TOPIC_IDF}
            self._vocabulary = vocabulary((c.text for c in self.lexical.chunks), self.documents, common)
        return self._vocabulary

    def key_terms(self, question: str) -> list[str]:
        return [t for t in dict.fromkeys(tokenize(question)) if t not in _QUESTION_WORDS]

    def idf_of(self, term: str) -> float:
        """The term's IDF in the indexed chunks (a term no chunk has weighs most)."""
        return self.idf.get(term, self.unseen_idf)

    def coverage(self, terms: list[str], text: str) -> float:
        """IDF-weighted share of the question's key terms found in `text`."""
        return share({t: self.idf_of(t) for t in terms}, set(tokenize(text)))

    def candidates(self, question: str, hits: Sequence[Hit]) -> list[Candidate]:
        """The answer units of the hits, scored for the question, best first; kept for the last
        rag.answer.memo.SCORED_MEMO (question, hits) pairs while the index is unchanged."""
        self.refresh_idf()
        key = (question, tuple(hits), self._idf_version)
        kept = self._scored.get(key)
        if kept is None:
            kept = self._score(question, list(hits))
            self._scored.put(key, kept)
        return list(kept)

    def _score(self, question: str, hits: list[Hit]) -> list[Candidate]:
        spans: list[tuple[int, int, int, str]] = []
        for rank, hit in enumerate(hits):
            c = hit.chunk
            spans += [(rank, c.start + s, c.start + e, c.text[s:e]) for s, e in answer_units(c.text, c.section, pairs=True)
                      if not is_pointer(c.text[s:e])]
        if not spans or unheld_figure(question, [h.chunk.text for h in hits] + [h.chunk.source for h in hits]):
            return []  # (a figure the question states that no passage holds: none answers)
        # "the second article" says which document, not what about (rag.answer.terms.document_reference)
        placed, question, naming_words = document_reference(question, self.documents)
        # (a document's name words stay terms: all its sentences hold them, rag.answer.terms.name_terms)
        terms = list(dict.fromkeys([*self.key_terms(question), *sorted(naming_words)]))
        qvec = np.asarray(self.embedder.embed_query(question))
        # a unit is scored with its section title, which says what a bare list is about
        contexts = [scored_context(hits[rank].chunk.text, s - hits[rank].chunk.start, e - hits[rank].chunk.start,
                                   hits[rank].chunk.section, PurePath(hits[rank].chunk.source).stem,
                                   self.headers.get((hits[rank].chunk.source, hits[rank].chunk.start), ""))
                    for rank, s, e, _text in spans]
        vectors = self.sentence_vectors(contexts)
        cosines = vectors @ qvec
        # a unit that refers back ("...via an API. It is akin to a gourmet restaurant") is also read
        # with its paragraph up to it, and is as close to the question as the better reading. A rule,
        # no constant. Dev (`python bench/reader_sets.py --split dev`): facts 120.3 -> 121.8 (fresh
        # articles 10 -> 11 of 13, fresh3 articles 10.2 -> 10.7 of 14); follow-ups with all facts 57
        # either way (conversations_fresh2 7 -> 8 of 13, conversations_short 10 -> 9 of 11: its first
        # answer now quotes the gourmet restaurant). FAQ dev halves (`python bench/run_suite.py
        # --split dev`): unchanged but emacs-common's right entry, 87 -> 89 %. Reading a sentence that
        # starts "It" alone with its paragraph (+0.5 facts more) quoted "It is akin to..." alone.
        wider = {i: scored_context(c.text, o, e - c.start, c.section) for i, (rank, s, e, _t) in enumerate(spans)
                 if (o := paragraph_opening((c := hits[rank].chunk).text, s - c.start, e - c.start)) is not None}
        if wider:
            for i, cos in zip(wider, self.sentence_vectors(list(wider.values())) @ qvec, strict=True):
                cosines[i] = max(cosines[i], cos)
        # What a sentence says about *this* question, not about the topic every retrieved
        # passage shares: a question term that most candidate sentences hold ("open source AI"
        # in a knowledge base about it) tells them apart little, so in the ranking its weight
        # shrinks with that share. Abstention still reads the plain relevance, whose threshold
        # was calibrated on it.
        held = [set(tokenize(t)) for t in contexts]  # each context tokenized once
        idf = {t: self.idf_of(t) for t in terms}
        held_by = {t: sum(t in h for h in held) / len(held) for t in terms}
        weights = {t: idf[t] * (1 - held_by[t] if held_by[t] >= self.generic_share else 1) for t in terms}
        passage = [h.dense_score if h.dense_score is not None else 0.0 for h in hits]
        topical = {t for t in terms if held_by[t] >= self.generic_share and idf[t] <= TOPIC_IDF}
        # a term that names a candidate's document ("Apache", "GPL", "MiniLM" in its file name)
        # chose the document, not the sentence: all of its sentences hold it
        named = {h.chunk.source: name_terms(h.chunk.source) for h in hits}
        # a question that names documents ("the Apache License") prefers their sentences
        said = [(hits[rank].chunk.source, words) for (rank, *_rest), words in zip(spans, held, strict=True)]
        # (a document named by its place counts when some of its passages were retrieved)
        chosen = (placed & named.keys()) or named_sources(named, said, {t: w for t, w in idf.items() if t not in topical})
        naming = {t for src in chosen for t in named[src] if idf.get(t, 0) > TOPIC_IDF}  # its rare words
        focus = without_terms(question, topical | naming) if (topical or naming) and self.focus_weight else ""
        focus = focus if self.key_terms(focus) else ""  # "What is all-MiniLM-L6-v2?" less its name: nothing
        focused = vectors @ np.asarray(self.embedder.embed_query(focus)) if focus else cosines
        less_topic = without_terms(question, topical) if topical else question
        kinds = asked(question) if self.shape_weight else frozenset()
        of = kinds_of(question) if "example" in kinds else ""
        if kinds & {"negative", "positive"}:
            # the polarity word is what is asked (the shape term reads it); as a word it pulls to
            # whatever names it. Dev: followups.jsonl repeats 1 -> 0 of 16 (rag.shape.SHAPE_WEIGHT)
            weights = {t: 0.0 if POLAR.match(t) else w for t, w in weights.items()}
        names = set().union(*named.values())
        asked_about = {t: w for t, w in weights.items() if t not in topical and t not in names}
        fields = [set(front_matter(h.chunk.text)) for h in hits]  # each passage's front matter, read once
        out = []
        for (rank, start, end, text), words, cos, fcos in zip(spans, held, cosines, focused, strict=True):
            # a sentence holds its document's name for the confidence too: "the maximum input length
            # of all-MiniLM-L6-v2" is covered by the card's "input text longer than 256 word pieces
            # is truncated" (0.327 -> 0.385). Dev (the commands at rag.settings.ABSTAIN_THRESHOLD):
            # fresh articles' false abstentions 3 -> 2 of 13, every reader set's unanswerable refused.
            held_here = words | named[hits[rank].chunk.source]
            cov = share(idf, held_here)
            relevance = (1 - self.lexical_weight) * float(cos) + self.lexical_weight * cov
            # prefer the retriever's order on near ties: a tie-breaker from the first commit (c6e3b96),
            # not tuned; re-measure: `python bench/tune_answer.py --split dev`. Round 20: no lower
            # than the fused top 5's last (Settings.k's default): the passages read after them
            # (BM25's extras, the sections whose titles the question names) are in no order of the
            # fusion's ("Is it a mistake to think open source AI is unsafe?" now quotes the pitfall
            # 'Assuming "Open Source" Means "Unsafe"'; dev, `python bench/reader_sets.py --split
            # dev`: 497.3 -> 499.3, facts +1, follow-ups with all facts +1, none lost)
            relevance -= 0.01 * min(rank, 5)
            specific = relevance + self.lexical_weight * (share(weights, held_here) - cov)
            specific += (1 - self.lexical_weight) * self.focus_weight * float(fcos - cos)
            chunk = hits[rank].chunk
            # a front-matter field ("license: apache-2.0") is a passage of its own, about the whole
            # document: neither its neighbour fields' closeness nor the lead's penalty are its
            field = (start - chunk.start, end - chunk.start) in fields[rank]
            if field and not set(tokenize(text.split(":", 1)[0])) & set(terms):
                continue  # a field answers a question that names its key ("license"), not "language: en"
            score = (1 - self.passage_weight) * specific + self.passage_weight * (float(cos) if field else passage[rank])
            if in_lead(chunk, self.leads) and not field:
                # less the share of what is asked that the sentence holds (the question's terms but
                # its topic's and the documents' names): an introduction is near every question of
                # its topic, yet "This distinction is not merely technical—it reflects deeper
                # philosophical, economic, and ethical differences." is what "What deeper differences
                # does the split reflect?" asks for. A rule, no constant; round 10, dev (`python
                # bench/reader_sets.py --split dev`): facts 121.8 -> 122.5, follow-ups unchanged;
                # FAQ dev halves (`python bench/run_suite.py --split dev`) unchanged but emacs-common's
                # right entry, 89 -> 90 %, and no answer opens with a centroid sentence (0 of 176)
                score -= self.lead_penalty * (1 - share(asked_about, words))
            score += self.title_weight * title_share(less_topic, unit_title(chunk.section, chunk.text, text), chunk.source)
            if start >= self.back.get(chunk.source, start + 1):
                score -= self.back_penalty
            if chosen and chunk.source not in chosen:
                score -= self.unnamed_penalty
            shaped = fit(kinds, text, chunk.section, of)
            score += self.shape_weight * shaped
            if shaped <= 0 and "definition" not in kinds and defines(text, chunk.section):
                score -= self.definition_penalty  # says what the topic is, asked something else
            span = (start - chunk.start, end - chunk.start)
            out.append(Candidate(rank, start, end, text, score, float(cos), cov, relevance, span in pairs_of(chunk.text)))
        out.sort(key=lambda c: -c.score)
        return out

    def warm(self, passages: Sequence[tuple[str, str]]) -> None:
        """Embed the sentences of these (section, text) passages ahead of the first questions."""
        # (a front-matter field is scored with its document's name, which these passages lack; a
        # row of a table the splitter cut, with the table's header, which the indexed chunks give)
        self.refresh_idf()
        continued = {c.text: self.headers[(c.source, c.start)] for c in self.lexical.chunks
                     if (c.source, c.start) in self.headers}
        units = []
        for sec, t in passages:
            for s, e in passage_units(t) + list(pairs_of(t)):
                units.append(scored_context(t, s, e, sec, header=continued.get(t, "")))
                # and a unit that refers back, read with its paragraph up to it (as `_score` reads it)
                if (o := paragraph_opening(t, s, e)) is not None:
                    units.append(scored_context(t, o, e, sec))
        self.sentence_vectors(units or ["-"])

    def confidence(self, question: str, candidates: list[Candidate], hits: Sequence[Hit]) -> float:
        """How sure we are that the knowledge base answers the question: the mean of how close
        its most relevant sentence and its best passage are to the question, less NAME_PENALTY
        when it names a thing no indexed text holds (rag.answer.amounts.unknown_name). (The
        smaller of the two refused specific questions whose sentence matches well inside a long,
        varied passage; rule and threshold: rag.settings.ABSTAIN_THRESHOLD.)"""
        top_passage = max((h.dense_score for h in hits if h.dense_score is not None), default=0.0)
        unknown = NAME_PENALTY if unknown_name(question, self.idf, self.initials) else 0.0
        return (max(c.relevance for c in candidates) + top_passage) / 2 - unknown

    def confidence_for(self, question: str, hits: Sequence[Hit]) -> float:
        """The confidence of the answer the extractive answerer would give from these hits
        (-inf when no sentence qualifies): the one abstention rule, which the llm answerer's gate
        applies too."""
        cands = self.candidates(question, hits)
        if not cands:
            return -math.inf
        return self.confidence(question, cands, hits)

    def would_answer(self, question: str, hits: Sequence[Hit], below: float = 0.0) -> bool:
        """Whether the extractive answerer would answer rather than abstain, with the threshold
        lowered by `below`."""
        return self.confidence_for(question, hits) >= self.threshold - below
