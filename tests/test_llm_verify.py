"""The llm answerer's check of a reply (rag.answer.verify through rag.answer.llm.finish), on
fixed replies written like qwen-1.5b's on the repository's question sets: no model runs here,
the real MiniLM embedder does the similarity."""

from __future__ import annotations

from rag.answer.llm import finish
from rag.types import Chunk, Hit

WARRANTY = ("THERE IS NO WARRANTY FOR THE PROGRAM, TO THE EXTENT PERMITTED BY APPLICABLE LAW. "
            "The entire risk as to the quality and performance of the program is with you.")
PATENTS = ("Each contributor grants you a non-exclusive, worldwide, royalty-free patent license under "
           "the contributor's essential patent claims.")
PRINCIPLE = ("- Various open-source transformer models\nThe core principle is transparency. Developers can inspect how the model works, identify "
             "biases, and adapt it to specific needs.")


def hit(source: str, section: str, text: str, offset: int = 0) -> Hit:
    return Hit(Chunk(source, section, text, offset, offset + len(text)), 0.6, 0.6, None)


def test_a_yes_that_only_restates_the_question_is_removed(embedder: object) -> None:
    """Its yes or no is all it adds, and no check of words can verify that: qwen-1.5b answered
    "Yes, there is a warranty for programs released under the GPL" from the GPL's disclaimer."""
    hits = [hit("related/gnu-gpl-3.0.txt", "Disclaimer of Warranty", WARRANTY)]
    question = "Is there a warranty for the program?"
    wrong = finish("Yes, there is a warranty for the program [1].", hits, embedder, question)
    assert wrong.abstained and wrong.unsupported == ("Yes, there is a warranty for the program.",)
    right = finish("No. There is no warranty for the program, to the extent permitted by applicable law [1].",
                   hits, embedder, question)
    assert not right.abstained
    assert right.text == "There is no warranty for the program, to the extent permitted by applicable law [1]."
    assert right.unsupported == ("No.",)
    # without the question (a caller that has none) the rule does not apply
    assert not finish("No. There is no warranty for the program [1].", hits, embedder).unsupported


def test_a_name_from_the_pieces_title_or_file_is_no_invention(embedder: object) -> None:
    """The model reads the section title before the piece; the file is the document the piece
    is from. A number of the file's name ("3.0") is not a number the text states."""
    principle = [hit("defining-divide.txt", "Defining Open Source AI", PRINCIPLE)]
    draft = finish("The core principle behind open source AI is transparency [1].", principle, embedder,
                   "What is the core principle behind open source AI?")
    assert not draft.abstained and draft.citations[0].quote == "The core principle is transparency."
    patents = [hit("related/gnu-gpl-3.0.txt", "Patents", PATENTS)]
    ok = finish("Under the GPL, each contributor grants you a royalty-free patent license [1].", patents, embedder,
                "Do contributors give me a patent license?")
    assert not ok.abstained and not ok.unsupported
    version = finish("Under GPL 3.0, each contributor grants you a royalty-free patent license [1].", patents,
                     embedder, "Do contributors give me a patent license?")
    assert version.abstained and version.unsupported


def test_a_claim_is_checked_against_the_piece_that_holds_its_number(embedder: object) -> None:
    """The closest piece by meaning lacks the number; the piece that has it supports the claim
    and gets the marker."""
    hits = [hit("card.md", "Usage", "The model maps sentences to dense vectors. Install the library to use the model."),
            hit("card.md", "Intro", "It maps sentences and paragraphs to a 384 dimensional dense vector space.",
                offset=500)]
    draft = finish("The model maps sentences to 384 dimensional dense vectors [1].", hits, embedder,
                   "How many dimensions do the vectors have?")
    assert not draft.unsupported
    assert draft.text == "The model maps sentences to 384 dimensional dense vectors [1]."
    assert draft.citations[0].start >= 500


def test_a_copied_section_title_is_left_out_of_the_answer(embedder: object) -> None:
    text = ("Building a core product on a third-party API creates a critical dependency. If the provider "
            "changes pricing, your business can be severely disrupted.")
    hits = [hit("article.txt", "Common Pitfalls", text)]
    draft = finish("Common Pitfalls: - Building a core product on a third-party API creates a critical "
                   "dependency [1].", hits, embedder, "What happens if the API provider changes pricing?")
    assert draft.text == "Building a core product on a third-party API creates a critical dependency [1]."


ECONOMIC = ("The second pillar is economic. Developing cutting-edge AI requires immense computational resources "
            "and research talent. The closed-source model, often monetized through APIs, provides a clear return "
            "on investment (ROI).")


def test_a_marker_inside_a_sentence_does_not_cut_it(embedder: object) -> None:
    """A marker ends a sentence for the check; written after the sentence's subject it cut the
    sentence in two, the subject was removed and the answer began mid-sentence ("mentions that
    developing cutting-edge AI requires...", issue 18)."""
    hits = [hit("open-vs-closed-source-ai.txt", "Economic", ECONOMIC)]
    question = "Why do companies keep their AI closed?"
    for reply in ("The second passage [1] mentions that developing cutting-edge AI requires immense "
                  "computational resources and research talent.",
                  "According to [1], developing cutting-edge AI requires immense computational resources and "
                  "research talent [1].",
                  "Passage 1 says that developing cutting-edge AI requires immense computational resources and "
                  "research talent [1]."):
        draft = finish(reply, hits, embedder, question)
        assert draft.text == ("Developing cutting-edge AI requires immense computational resources and "
                              "research talent [1]."), reply
        assert not draft.unsupported
    # two markers inside one sentence: the sentence cites both, whole
    two = [hit("a.txt", "Examples", "Llama is an open model."),
           hit("b.txt", "Examples", "Stable Diffusion is an open model.", offset=100)]
    draft = finish("Llama [1] and Stable Diffusion [2] are open models.", two, embedder, "Which models are open?")
    assert draft.text == "Llama and Stable Diffusion are open models [1][2]."
    assert not draft.unsupported
