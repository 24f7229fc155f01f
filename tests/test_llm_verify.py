"""The llm answerer's check of a reply (rag.answer.verify through rag.answer.llm.finish), on
fixed replies written like qwen-1.5b's on the repository's question sets: no model runs here,
the real MiniLM embedder does the similarity."""

from __future__ import annotations

from rag.answer.llm import finish
from rag.answer.reply import without_lead_ins, without_titles
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
    assert wrong.abstained and wrong.unsupported == ("There is a warranty for the program.",)  # (its yes goes first)
    right = finish("No. There is no warranty for the program, to the extent permitted by applicable law [1].",
                   hits, embedder, question)
    assert not right.abstained
    assert right.text == "There is no warranty for the program, to the extent permitted by applicable law [1]."
    assert right.unsupported == ("No.",)
    # without the question (a caller that has none) the rule does not apply
    assert not finish("No. There is no warranty for the program [1].", hits, embedder).unsupported


def test_a_yes_or_no_before_a_statement_is_left_out(embedder: object) -> None:
    """qwen-1.5b answered "Is Meta's LLaMA actually fully open source?" with "Yes, Meta's LLaMA is
    partially open source": the statement is the passage's, the yes is the model's."""
    llama = [hit("defining-divide.txt", "Defining Open Source AI",
                 "Examples include:\n- Meta’s LLaMA (partially open)\n- Stable Diffusion")]
    draft = finish("Yes, Meta's LLaMA is partially open [1].", llama, embedder,
                   "Is Meta's LLaMA actually fully open source?")
    assert draft.text == "Meta's LLaMA is partially open [1]."
    assert without_lead_ins("No one may sue [1]. No, it is not [2].") == "No one may sue [1]. It is not [2]."
    # (and a document named in more words: "The defining divide piece states that ...")
    assert without_lead_ins("The defining divide piece states that closed models cost more [1].") == \
        "Closed models cost more [1]."


def test_a_sentence_about_the_passages_is_left_out(embedder: object) -> None:
    """The reader never saw the passages: "The passage directly supports this answer..." is the
    model speaking of its prompt (qwen-1.5b on the articles)."""
    hits = [hit("article.txt", "Common Pitfalls", "Conversely, closed-source API costs can scale unpredictably with user growth.")]
    draft = finish('Closed-source API costs can scale unpredictably with user growth [1]. The passage directly supports '
                   'this answer by mentioning that "Conversely, closed-source API costs can scale unpredictably" [1].',
                   hits, embedder, "What does a closed API cost?")
    assert draft.text == "Closed-source API costs can scale unpredictably with user growth [1]."
    # a document that speaks of passages itself may be quoted saying so
    tunnel = [hit("castle.txt", "Tunnels", "A secret passage leads from the cellar to the river.")]
    assert finish("A secret passage leads from the cellar to the river [1].", tunnel, embedder,
                  "Where does the cellar lead?").text == "A secret passage leads from the cellar to the river [1]."


def test_a_reply_that_is_only_a_section_title_says_nothing(embedder: object) -> None:
    """qwen-1.5b answered "When does it make more sense to go with a closed model?" with the
    title the prompt shows before the piece: its words are the piece's, yet it says nothing."""
    closed = [hit("defining-divide.txt", "When Closed AI Is Preferable",
                  "Closed models are often better suited for:\n- Plug-and-play solutions\n- Rapid deployment")]
    question = "When does it make more sense to go with a closed model?"
    title = finish("When Closed AI Is Preferable [1]", closed, embedder, question)
    assert title.abstained and title.unsupported == ("When Closed AI Is Preferable",)
    kept = finish("When Closed AI Is Preferable. Closed models are often better suited for plug-and-play solutions [1].",
                  closed, embedder, question)
    assert kept.text == "Closed models are often better suited for plug-and-play solutions [1]."


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
    # in another case, or without its colon (qwen-1.5b on the article sets' dev halves)
    for copied in ("COMMON PITFALLS: ", "Common pitfalls "):
        draft = finish(f"{copied}Building a core product on a third-party API creates a critical dependency [1].",
                       hits, embedder, "What happens if the API provider changes pricing?")
        assert draft.text == "Building a core product on a third-party API creates a critical dependency [1]."
    # a title of one word, without a colon, may be how a sentence begins
    assert without_titles("Patents Are granted [1].", [hit("gpl.txt", "Patents", PATENTS)]) == "Patents Are granted [1]."


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
