"""What the llm answerer reads around its best sentences (rag/answer/evidence.py), with the
real MiniLM scorer; no model runs."""

from __future__ import annotations

from rag.answer.evidence import EVIDENCE_CHARS, select_evidence
from rag.answer.scorer import SentenceScorer
from rag.types import Chunk, Hit

# the shape of the articles' "Controlled Innovation in Closed Systems" section: a list, and a
# sentence after its last item that scores best for the question
CONTROLLED = ("Controlled Innovation in Closed Systems\n"
              "Closed AI models innovate within organizational boundaries. While this may limit external "
              "contributions, it allows for:\n- Focused development\n- Consistent quality control\n"
              "- Strategic direction\nCompanies can align innovation with business goals and user needs.\n"
              "Customization and Flexibility\nOpen source AI allows deep customization.")


def hit(text: str, section: str, offset: int = 0) -> Hit:
    return Hit(Chunk("article.txt", section, text, offset, offset + len(text)), 0.6, 0.6, None)


def test_a_sentence_next_to_a_list_brings_the_whole_list(embedder: object) -> None:
    """The sentence after a list's last item was widened by that item alone ("- Strategic
    direction"), and the model named one of the three things companies gain
    (qa_fresh_articles.jsonl's dev half): the neighbour that is a list item brings its list
    and the line that introduces it."""
    hits = [hit(CONTROLLED, "Controlled Innovation in Closed Systems")]
    pieces = select_evidence("What do companies gain by aligning innovation with business goals?", hits,
                             SentenceScorer(embedder))
    text = "\n".join(p.chunk.text for p in pieces)
    assert "Companies can align innovation" in text
    for item in ("it allows for:", "- Focused development", "- Consistent quality control", "- Strategic direction"):
        assert item in text, item
    assert sum(len(p.chunk.text) for p in pieces) <= EVIDENCE_CHARS
    for p in pieces:  # each piece is still an exact span of its chunk
        assert CONTROLLED[p.chunk.start : p.chunk.end] == p.chunk.text
