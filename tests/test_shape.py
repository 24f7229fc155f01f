"""What kind of answer a question asks for (rag.shape): read from its own words, never from a
follow-up's carried context, and matched against what a sentence shows."""

from __future__ import annotations

from typing import Any

from rag.answer.amounts import (
    counted,
    initialisms,
    names_amount,
    unanswered,
    unanswered_amount,
    unanswered_name,
    unheld_figure,
    unknown_name,
)
from rag.answer.terms import document_reference
from rag.embed import Embedder
from rag.kb import KnowledgeBase
from rag.lexical import tokenize
from rag.references import is_pointer
from rag.shape import asked, asks_steps, expanded, fit, kinds_of


def test_what_a_question_asks_for() -> None:
    assert asked("What are the downsides of closed AI?") == {"negative"}
    assert asked("Why is it more secure?") == {"reason"}
    assert asked("Examples?") == {"example"}
    assert asked("What are the pros and cons of open models?") == frozenset()  # both polarities: neither
    assert asked("How do I install it?") == frozenset()
    # "who benefits" asks for people, not for a list of advantages (round 21: for people, by name)
    assert asked("Who benefits when a company releases open weights?") == {"people"}
    # the carried context of a condensed follow-up says what it is about, not what it asks
    assert asked("And its downsides? downsides (advantages open-source AI)") == {"negative"}
    assert asked("How are they accessed? accessed (examples closed AI)") == {"access"}  # (not "example")
    # unless the follow-up asks the carried question again of something else, with no shape of its own
    assert asked("and for closed source? closed source (analogy second article use)") == {"analogy"}


def test_a_sentence_fits_the_asked_shape_or_its_opposite() -> None:
    neg = asked("What are the risks?")
    assert fit(neg, "It requires more expertise and carries misuse risks.") == 1.0
    assert fit(neg, "The advantages of open models are many.") == -1.0
    assert fit(neg, "Open models are published by companies.") == 0.0
    assert fit(asked("Why?"), "Closed models lead due to proprietary data.") == 1.0
    assert fit(asked("Examples?"), "Examples include:\n- LLaMA\n- Bloom") == 1.0
    assert fit(frozenset(), "anything") == 0.0


def test_bm25_query_gets_the_words_a_polarity_goes_by() -> None:
    assert expanded("How do I install it?") == "How do I install it?"
    more = expanded("What are its downsides?")
    assert more.startswith("What are its downsides?") and "risks" in more and "drawbacks" in more
    assert "advantages" in expanded("What are the benefits?")


def test_a_cross_reference_is_a_pointer_not_an_answer() -> None:
    from rag.references import is_pointer

    assert is_pointer("Please see Section 6.1, “How many Debian distributions are there?\n” for more information.")
    assert is_pointer("For more information see Section 10.2, “What tools does Debian provide?”.")
    assert is_pointer("For more information on :func:`testfile`, see section :ref:`doctest-basic-api`.")
    # a pointer inside a statement, or to something outside the documents, may be the answer
    assert not is_pointer("Debian supports many architectures (see Section 3).")
    assert not is_pointer("Please refer to Debian GNU/Linux on CDs (https://www.debian.org/CD/).")
    # a sentence that sends the reader elsewhere "for more information" says nothing itself
    assert is_pointer("Please refer to the model card for more detailed information about the pre-training procedure.")
    assert is_pointer("See the git-config manual for more details.")
    assert not is_pointer("See https://www.debian.org/CD/ for the list of vendors.")  # where: an answer
    # "for more information, see" a web address: more is elsewhere, this sentence says nothing
    assert is_pointer("For more information on this, and how to apply and follow the GNU GPL, see <https://www.gnu.org/licenses/>.")
    assert not is_pointer("For more information about packages, read the policy manual.")


def test_the_closing_advice_of_a_licence_answers_a_question_about_it(full_kb: KnowledgeBase) -> None:
    """The GPL's advice to use the LGPL for a library follows its terms (back matter): it ranks
    lower than the terms, not out of reach, and its pointer sentence is no answer."""
    answer = full_kb.ask("Can I use GPL code in a library that proprietary programs link to?")
    assert "GNU Lesser General Public License" in answer.text, answer.text
    assert "For more information on this" not in answer.text, answer.text


def test_a_pointer_sentence_does_not_answer_how_a_model_was_trained(full_kb: KnowledgeBase) -> None:
    answer = full_kb.ask("How was all-MiniLM-L6-v2 trained?")
    assert "Please refer to the model card" not in answer.text, answer.text


def test_a_cross_reference_s_quoted_title_is_not_the_sentence_s_content() -> None:
    from rag.references import without_cross_references

    text = "Debian has good support for non-English users, see\nSection 5.9, “How does Debian support\nnon-English languages?”."
    assert without_cross_references(text) == "Debian has good support for non-English users, see\nSection 5.9."
    assert without_cross_references("He said “hello” in chapter two.") == "He said “hello” in chapter two."


def test_a_list_a_gain_an_analogy_or_a_definition_is_asked_by_its_grammar() -> None:
    assert asked("For which kinds of projects is open source AI described as the ideal choice?") == {"example", "suitability"}  # (round 14: "the ideal choice" asks where it fits too)
    assert asked("What types of systems are closed?") == {"example"}
    assert asked("What do companies gain by keeping innovation inside their own walls?") == {"positive"}
    assert asked("What analogy does the article use for closed AI?") == {"analogy"}
    assert asked("What is open-source AI?") == {"definition"}
    assert asked("What does the licence mean by a Contribution?") == {"definition"}
    assert asked("Does using a program over a network count as conveying it?") == {"definition"}
    # "what is" with more than a term after it asks about the term, not what it is
    assert asked("What is the financial argument for keeping AI models proprietary?") == frozenset()
    assert asked("What are the risks?") == {"negative"}


def test_a_definition_is_told_by_its_wording_or_its_section() -> None:
    from rag.shape import defines

    assert defines('"Contribution" shall mean any work of authorship submitted to the Licensor.')
    assert defines('A "contributor" is a copyright holder who authorizes use under this License.')
    assert defines("Open source AI refers to models whose code is publicly available.")
    # a licence's term defined for something: '"X" for a User Product means' (round 12)
    assert defines('"Installation Information" for a User Product means any methods, procedures or keys.')
    assert defines('The "Corresponding Source" for a work in object code form means all the source code.')
    assert not defines('This "many eyes" approach can, in theory, lead to more secure systems.')
    assert defines("Closed AI models, by contrast, are proprietary systems.", "Defining Closed AI Models")
    # a list of instances under such a title, a title-case headline and a plain statement are not
    assert not defines("Examples include:\n- Stable Diffusion\n- LLaMA", "Defining Open Source AI")
    assert not defines('- Assuming "Open Source" Means "Unsafe": open models can be misused.')
    assert not defines("Closed models typically offer limited customization.", "Constraints of Closed Systems")
    assert fit(asked("What is closed AI?"), "Closed AI refers to proprietary models.") == 1.0
    assert fit(asked("Which analogy is used?"), "Think of it as a publicly available recipe.") == 1.0


def test_a_question_for_a_difference_fits_a_contrast_or_a_definition() -> None:
    """"What's the difference between X and Y?" asks what sets them apart: a sentence that
    contrasts them (round 12: it was answered "The choice between open and closed AI affects who
    controls technology."). "What deeper differences does the split reflect?" asks what they are."""
    kinds = asked("What's the main difference between open and closed AI?")
    assert "contrast" in kinds and "definition" not in kinds
    assert "contrast" in asked("How do open and closed models differ?")
    assert fit(kinds, "Closed AI models, by contrast, are proprietary systems controlled by organizations.") == 1.0
    assert fit(kinds, "The choice between open and closed AI affects who controls technology.") == 0.0
    assert "contrast" not in asked("What deeper differences does the split between open and closed AI reflect?")
    assert "contrast" not in asked("What are the risks of open source AI?")


def test_a_question_for_what_is_cheaper_fits_a_sentence_about_costs() -> None:
    """"and which is cheaper to run?" asks about costs (round 12, after the test run: it was
    answered with what closed models are suited for); "free" as in freedom is no cost."""
    kinds = asked("and which is cheaper to run? cheaper run (open closed AI)")
    assert "cost" in kinds
    assert fit(kinds, 'Choosing an open-source model seems "free," but costs shift to engineering.') == 1.0
    assert fit(kinds, "Platforms offering tools like Free Overchat AI Chat illustrate accessibility.") == 0.0
    assert "costs fees" in expanded("Which is cheaper?")


def test_a_question_that_asks_for_advice_fits_a_recommendation() -> None:
    kinds = asked("What licence does the GPL text suggest for a library that proprietary programs link against?")
    assert kinds == {"advice"}
    assert fit(kinds, "If this is what you want to do, use the GNU Lesser General Public License instead.") == 1.0
    assert fit(kinds, "For more information on this, see <https://www.gnu.org/licenses/>.") == 0.0


class Counting:
    """An embedder that records what it is asked to encode (the passages' sentences)."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self.encoded: list[str] = []

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.embed_query(text)

    def encode(self, texts: list[str]) -> Any:
        self.encoded += texts
        return self.embedder.encode(texts)


def test_warming_embeds_a_cross_reference_sentence_as_it_is_scored(embedder: Embedder) -> None:
    """The scorer reads a sentence without the quoted titles it refers to; warming ahead of the
    first question embeds that same text, so the question embeds nothing of the passage again."""
    from rag.answer.scorer import SentenceScorer
    from rag.types import Chunk, Hit

    text = ("Debian has good support for non-English users, see Section 5.9, “How does Debian support "
            "non-English languages?”. Its installer speaks many languages.")
    counting = Counting(embedder)
    scorer = SentenceScorer(counting)
    scorer.warm([("Languages", text)])
    warmed = len(counting.encoded)
    scorer.candidates("Does Debian support other languages?", [Hit(Chunk("faq.txt", "Languages", text, 0, len(text)), 0.5, 0.5)])
    assert warmed and counting.encoded[warmed:] == []


def test_a_unit_that_refers_back_is_also_read_with_its_paragraph(embedder: Embedder) -> None:
    """"Users reach these models via an API. It is akin to a restaurant." is about what its
    paragraph opened with; it is read with the paragraph up to it as well (rag.answer.units.
    paragraph_opening), and warming embeds that reading too, so a question embeds no passage."""
    from rag.answer.scorer import SentenceScorer
    from rag.answer.units import paragraph_opening, passage_units
    from rag.types import Chunk, Hit

    text = ("Intro line.\nClosed-source AI is kept by one company. Users reach these models via an API. "
            "It is akin to a restaurant whose kitchen you never see.\nThink of it as a locked box, said nobody.")
    units = {text[s:e]: (s, e) for s, e in passage_units(text)}
    joined = units["Users reach these models via an API. It is akin to a restaurant whose kitchen you never see."]
    assert paragraph_opening(text, *joined) == text.index("Closed-source")
    assert paragraph_opening(text, *units["It is akin to a restaurant whose kitchen you never see."]) is None
    assert paragraph_opening(text, *units["Closed-source AI is kept by one company."]) is None  # the opening
    assert paragraph_opening(text, *units["Think of it as a locked box, said nobody."]) is None  # a line of its own

    counting = Counting(embedder)
    scorer = SentenceScorer(counting)
    scorer.warm([("Closed AI", text)])
    warmed = len(counting.encoded)
    cands = scorer.candidates("What is closed-source AI likened to?",
                              [Hit(Chunk("a.txt", "Closed AI", text, 0, len(text)), 0.5, 0.5)])
    assert warmed and counting.encoded[warmed:] == []
    assert "restaurant" in cands[0].text, [c.text for c in cands]


def test_a_link_alone_is_a_pointer() -> None:
    assert is_pointer("But first, please read <https://www.gnu.org/licenses/why-not-lgpl.html>.")
    assert not is_pointer("Please read the license.")
    assert not is_pointer("See <https://example.org> for how to apply it, and why it matters.")


def test_a_question_for_who_made_something_needs_a_name() -> None:
    """"Who wrote X?", "which company ...?" are answered by a quote that names someone the
    question does not: capitalized words that do not open a sentence (round 12)."""
    intro = "This distinction is not merely technical—it reflects deeper philosophical differences."
    assert unanswered_name("Who wrote 'A Defining Divide in the AI Era'?", [intro])
    assert unanswered("Who wrote 'A Defining Divide in the AI Era'?", [intro])
    assert not unanswered_name("and who publishes it? (GNU General Public License)",
                               ["The Free Software Foundation may publish revised versions of the License."])
    assert not unanswered_name("who organised the event?", ["the Community week, organized by Hugging Face."])
    # a follow-up's carried words name what it is about; "(Don't ...!) The text" opens a sentence
    notice = 'attach the notice. (Don\'t include the brackets!) The text should name the Apache License.'
    assert unanswered_name("who were its authors? authors (Apache License)", [notice])
    # the words of the question that asks who, not those of the others beside it (round 13)
    assert not unanswered_name("Who supports Perl? Who develops it? Why is it free?",
                               ["Perl is not produced nor maintained by the Free Software Foundation."])
    # the thing the question names is no answer; neither is a sentence's first word
    assert unanswered_name("Which company operates the Overchat platform?",
                           ["For instance, platforms offering tools like Free Overchat AI Chat illustrate it."])
    assert unanswered_name("Who wrote the original draft of the Apache License?",
                           ["To apply the Apache License to your work, attach the following notice."])
    # no name asked: who can, who benefits; and "which companies' models" asks for models
    assert not unanswered_name("Who benefits from open models?", ["researchers and startups gain access"])
    assert not unanswered_name("Which companies' models are given as examples?", ["Commercial large language models"])


def test_a_question_for_an_amount_needs_that_amount() -> None:
    """"how many" counts what it names, a price is money, "what year" a year; a figure the
    question states that no passage holds is not spoken of."""
    assert counted("Roughly how many sentence pairs went into fine-tuning?") == "pair"
    assert counted("How many dimensions do the embeddings have?") == "dimension"
    assert counted("and how many?") == ""
    assert not unanswered_amount("How many dimensions do the embeddings have?",
                                 ["It maps sentences to a 384 dimensional dense vector space"])
    assert unanswered_amount("how many hours did training take?", ["a batch size of 1024 (128 per TPU core)"])
    # the number counts what is asked when it stands near it, not anywhere in the quote (round 11)
    python = "Strings became much more like other standard types starting in Python 1.6, when methods were added"
    assert unanswered_amount("How many strings does a standard guitar have?", [python])
    assert not unanswered_amount("How many Debian distributions are there?", ["There are three major distributions"])
    assert unanswered_amount("How much does GPT-4 cost per month?", ["without billion-dollar budgets"])
    assert not unanswered_amount("How much does GPT-4 cost per month?", ["It costs $20 a month."])
    assert unanswered_amount("In what year was the GPL first published?", ["(1) assert copyright"])
    # "how long?" is also answered by a duration without a number (round 12)
    grant = "each Contributor hereby grants to You a perpetual, worldwide, non-exclusive, no-charge copyright license"
    assert not unanswered_amount("What license does each contributor grant, and how long does it last?", [grant])
    assert unanswered_amount("How long does the license last?", ["each Contributor hereby grants to You a license"])
    # "how much" before a verb asks how far, not how much of something (round 12); a price is money
    assert not unanswered_amount("and closed systems, how much can you tweak those?",
                                 ["Closed models typically offer limited customization."])
    assert unanswered_amount("How much data was used?", ["a lot of data"])
    assert unanswered_amount("How much does it cost to run?", ["costs shift to engineering"])
    assert not unanswered_amount("In what year was the GPL first published?", ["Version 3, 29 June 2007"])
    # a follow-up's carried words in parentheses say what about, not what is asked
    assert not unanswered_amount("Why? (how many hours)", ["Because it is fast."])
    assert unheld_figure("Who wrote the first draft of the GPL in 1985?", ["Version 3, 29 June 2007"])
    assert not unheld_figure("What happens after 30 days?", ["within 30 days after"])
    assert not unheld_figure("What does all-MiniLM-L6-v2 do? Apache 2.0?", ["license: apache-2.0"])
    # a version number too, held by a passage or by a document's name (round 13)
    assert unheld_figure("When was version 1.1 of the Apache License released?", ["Version 2.0, January 2004"])
    assert not unheld_figure("Can I use the trademarks under Apache 2.0?", ["6. Trademarks.", "apache-license-2.0.txt"])
    # "version 2" after the word only: a lone digit is in every numbered section (round 23)
    assert unheld_figure("When was version 2 of the GNU GPL published?", ["2. Basic Permissions.", "Version 3, 29 June 2007"])
    assert not unheld_figure("What date is on version 3 of the GNU GPL?", ["Version 3, 29 June 2007"])


def test_a_document_named_by_its_place_is_the_one_meant(full_kb: KnowledgeBase) -> None:
    """"the second article" is the knowledge base's second document as listed: its words say
    which document, not what about ("The second pillar is economic." is no answer)."""
    sources = ["a.txt", "b.txt", "related/c.md"]
    assert document_reference("What analogy does the second article use?", sources) == (
        {"b.txt"}, "What analogy does use?", set())
    assert document_reference("In the first article's view, why?", sources)[0] == {"a.txt"}
    assert document_reference("According to the text, why is X?", sources)[:2] == (set(), ", why is X?")
    # "text" or "the document" as what a document talks about is no reference to one
    assert document_reference("How do I search the text of a document?", sources)[1] == (
        "How do I search the text of a document?")
    answer = full_kb.ask("What analogy does the second article use for open-source AI?")
    assert answer.citations[0].source == "open-vs-closed-source-ai.txt", answer.text
    assert "recipe" in answer.citations[0].quote and "second pillar" not in answer.text, answer.text


def test_a_document_named_by_its_file_names_words_is_the_one_meant(full_kb: KnowledgeBase) -> None:
    """"the defining divide article" names defining-divide-open-vs-closed-ai.txt, though the
    other article says "divide" too; its words say which document, not what about: "What analogy
    does the open vs closed source AI article use for closed models?" asks about closed models."""
    sources = ["defining-divide-open-vs-closed-ai.txt", "open-vs-closed-source-ai.txt", "related/gnu-gpl-3.0.txt"]
    assert document_reference("Is Llama fully open according to the defining divide article?", sources) == (
        {"defining-divide-open-vs-closed-ai.txt"}, "Is Llama fully open ?", {"defining", "divide"})
    assert document_reference("According to 'A Defining Divide', what comes first?", sources)[:2] == (
        {"defining-divide-open-vs-closed-ai.txt"}, ", what comes first?")
    assert document_reference("What does the Open Source vs Closed Source AI piece's summary say?", sources)[:2] == (
        {"open-vs-closed-source-ai.txt"}, "What does summary say?")
    # words both names hold name neither, but are no subject either; words of no name are no reference
    assert document_reference("Which products does the open vs closed article name?", sources)[:2] == (
        set(), "Which products does name?")
    assert document_reference("What does the article about open models say?", sources)[:2] == (
        set(), "What does the article about open models say?")
    assert document_reference('Does "open source" mean "unsafe"?', sources)[1] == 'Does "open source" mean "unsafe"?'
    answer = full_kb.ask("What analogy does the open vs closed source AI article use for closed models?")
    assert "gourmet restaurant" in answer.citations[0].quote, answer.text


def test_a_question_names_a_title_of_the_same_root() -> None:
    """The stemmer keeps "conclude" and "Conclusion" apart; their roots are one (rag.lexical.ROOT),
    so "What does the article conclude?" names the section titled "Conclusion"."""
    from rag.answer.terms import title_share

    assert title_share("What does the article conclude?", "Conclusion: Choosing the Right Path", "a.txt") > 0
    assert title_share("What does the article conclude?", "Power Distribution", "a.txt") == 0


def test_a_question_for_when_something_happened_needs_a_date() -> None:
    """"When was X released?" asks for a point in time: a sentence that dates something fits it,
    and quotes that date nothing leave it unanswered; "When is X the better choice?" asks in
    which case (round 13)."""
    assert "time" in asked("when was gpl v3 released")
    assert "time" in asked("What year did the Apache License come out?")
    assert "time" in asked("What's the date on GPL version 3?")
    assert "time" in asked("GPLv3 release date?") and "time" in asked("the publication date of the licence?")
    assert "time" not in asked("What does the release process look like?")
    assert "time" not in asked("When is a closed AI model the better choice?")
    assert fit(asked("When was GPL version 3 released?"), "Version 3, 29 June 2007") == 1.0
    assert fit(asked("When was GPL version 3 released?"), "The GPL requires that modified versions be marked.") == 0.0
    assert unanswered("When did the Roman Empire fall?", ["Closed systems can harbor hidden flaws."])
    assert not unanswered("When was the Apache License 2.0 published?", ["Version 2.0, January 2004"])
    assert not unanswered("When is closed AI preferable?", ["Closed models are often better suited for: - Rapid deployment"])


def test_how_should_i_choose_asks_for_advice() -> None:
    """"So how should I choose?", "which one should I pick?" ask for advice as "what should I
    ...?" does, and "your choice depends on ..." gives it (round 13)."""
    assert asked("So how should I choose?") == {"advice"}
    assert asked("so which one should I pick?") == {"advice"}
    assert "advice" not in asked("How should the notice be applied?")
    assert fit(asked("So how should I choose?"), "Your choice depends on your specific needs for customization.") == 1.0


def test_is_there_an_exception_asks_where_a_rule_stops() -> None:
    """"Is there an exception?", "when is it excused?" fit a sentence that says a rule does not
    apply, or applies except when (round 13)."""
    rom = "But this requirement does not apply if neither you nor any third party retains the ability to install it."
    assert asked("is there an exception?") == {"exception"}
    assert "exception" in asked("When is a distributor of a User Product excused from supplying it?")
    assert fit(asked("is there an exception?"), rom) == 1.0
    assert fit(asked("is there an exception?"), "You must provide the Installation Information.") == 0.0


def test_what_is_a_quoted_term_asks_what_it_means() -> None:
    """"What is a 'Contribution' under the Apache license?" asks for a definition; "What is the
    'many eyes' argument ...?" asks what the argument is (round 13)."""
    assert "definition" in asked("What is a 'Contribution' under the Apache license?")
    assert "definition" in asked('What is a "Derivative Work"?')
    assert "definition" not in asked("What is the 'many eyes' argument in favour of open-source AI?")



def test_what_is_it_best_suited_for_asks_where_it_fits(full_kb: KnowledgeBase) -> None:
    """"What is X a good fit for?", "when does Y make more sense?" fit a sentence that says what a
    thing is ideal or suited for (round 14: answered with examples of open models before)."""
    assert "suitability" in asked("What sorts of projects is the zorblax the best fit for?")
    assert "suitability" in asked("When does it make more sense to go with a zorblax?")
    assert "suitability" in asked("and when is the other one the better choice?")
    assert "suitability" not in asked("Is it the best model?")
    assert fit(frozenset(["suitability"]), "Zorblaxes are often better suited for: - Rapid deployment") == 1.0
    assert fit(frozenset(["suitability"]), "Zorblaxes are made of wood.") == 0.0
    answer = full_kb.ask("What is open source AI a good fit for?")
    assert "Research and experimentation" in answer.text, answer.text


def test_a_name_no_indexed_text_holds_is_unknown() -> None:
    """A name with two capitals that the indexed text holds neither as a word nor as initials is
    unknown; a version, plural or possessive does not make it one ("GPLv3", "GPUs", "Meta's"), nor
    do initials of capitalized words ("AGPL")."""
    text = "the GNU Affero General Public License; the GPL; GPUs and OpenAI's GPT; Meta"
    terms = set(tokenize(text))
    initials = initialisms([text])
    assert "AGPL" in initials and "GPL" in initials
    for known in ("Can GPLv3 code be combined with AGPLv3 code?", "How many GPUs does OpenAI use?",
                  "What about GPT-4?", "What is Meta's model?"):
        assert unknown_name(known, terms, initials) == "", known
    assert unknown_name("What score does it get on the MTEB benchmark?", terms, initials) == "MTEB"
    # (only the follow-up's own words: a carried name is the previous question's)
    assert unknown_name("and its STS score? score (OpenAI)", terms, initials) == "STS"


def test_a_question_about_a_name_the_documents_never_mention_is_refused(full_kb: KnowledgeBase) -> None:
    """"What score does all-MiniLM-L6-v2 get on the MTEB benchmark?" was answered with the model
    card's training sentences at the threshold of round 17 (rag.settings.ABSTAIN_THRESHOLD): no
    indexed text names MTEB. The same question about what the card does hold is answered."""
    assert full_kb.ask("What score does all-MiniLM-L6-v2 get on the MTEB benchmark?").abstained
    assert full_kb.ask("Who is the CEO of OpenAI?").abstained  # (0.388 before the penalty: "CEO")
    assert not full_kb.ask("How many dimensions does all-MiniLM-L6-v2 map sentences to?").abstained


def test_an_amount_is_named_strictly() -> None:
    """A sentence behind the best may answer a question for an amount only when it names that
    very amount: a span of time for "how long", a number of what "how many" counts, a price."""
    offer = "accompanied by a written offer, valid for at least three years and valid for as long as you offer spare parts"
    assert names_amount("How long does the written offer have to stay valid?", offer)
    assert not names_amount("How long does the written offer have to stay valid?", "available for as long as needed")
    assert names_amount("How many dimensions do the embeddings have?", "a 384 dimensional dense vector space")
    assert not names_amount("How many parameters does Bloom have?", "trained on 1B sentence pairs")
    assert not names_amount("How much does Gemini cost per month?", "billion-dollar budgets")
    assert names_amount("How much does it cost?", "It costs $20 a month.")
    # a year, a date, a name: many sentences hold one, which answers no question for another
    assert not names_amount("In what year was the first GPL published?", "Version 3, 29 June 2007")
    assert not names_amount("Who wrote the Apache License?", "The Apache Software Foundation")


def test_a_duration_close_behind_the_best_sentence_answers(full_kb: KnowledgeBase) -> None:
    """"How long does the written offer have to stay valid?" was refused: its best sentence,
    "available for as long as needed to satisfy these requirements.", names no span of time, and
    GPL section 6b's "valid for at least three years" scored 0.03 behind it (round 19)."""
    answer = full_kb.ask("How long does the written offer have to stay valid?")
    assert not answer.abstained and "three years" in answer.text, answer.text
    assert full_kb.ask("How much does Gemini cost per month?").abstained


def assert_shape(kind: str, asking: tuple[str, ...], not_asking: tuple[str, ...], fitting: tuple[str, ...],
                 not_fitting: tuple[str, ...]) -> None:
    """The questions that ask for the shape `kind` and those that do not; the sentences that have
    it and those that do not."""
    for q in asking:
        assert kind in asked(q), q
    for q in not_asking:
        assert kind not in asked(q), q
    for sentence in fitting:
        assert fit(frozenset([kind]), sentence) == 1.0, sentence
    for sentence in not_fitting:
        assert fit(frozenset([kind]), sentence) == 0.0, sentence


def test_a_question_about_the_future_fits_a_sentence_that_predicts(full_kb: KnowledgeBase) -> None:
    """"What will X look like later on?", "what does it predict?" ask what is to come: a sentence
    that says what is likely, not one that merely has "will" or names "the future" (round 20)."""
    assert_shape("future",
                 ("What will the zorblax market probably look like later on?", "What future does the report predict?",
                  "What does the author expect the field to look like in future?", "will one side win out?"),
                 ("What will the zorblax cost?", "What does a zorblax look like?"),
                 ("The future will likely involve a hybrid ecosystem of zorblaxes.",),
                 ("The trajectory of this debate will directly affect prices.",
                  "It is a decision shaping who controls the future."))
    assert "likely" in expanded("What will the zorblax market probably look like later on?")
    answer = full_kb.ask("What will the AI landscape probably look like later on?")
    assert "hybrid ecosystem" in answer.text, answer.text


def test_can_i_get_it_back_asks_how_it_is_restored() -> None:
    """"can I get them back?" fits a sentence that says a thing is reinstated or restored, and
    also searches those words (round 20: after the GPL's termination it quoted "Termination of
    your rights ... does not terminate the licenses of parties ...")."""
    assert_shape("restore", ("can I get them back?", "how can I get my rights back?", "Can I regain it?"),
                 ("What do I get back from the API?",),
                 ("If you cease all violation, your license is reinstated provisionally.",
                  "Your license is\nreinstated permanently if you cure the violation."),
                 ("Termination does not terminate the licenses of other parties.",
                  # (round 21: a negated one says it is not restored)
                  "If your rights have been terminated and not permanently\nreinstated, you do not qualify."))
    assert "reinstated" in expanded("can I get them back?")


def test_a_passage_read_after_the_fused_five_is_not_ranked_below_them(full_kb: KnowledgeBase) -> None:
    """"Is it a mistake to think open source AI is unsafe?" reads the pitfalls passage after the
    fused top 5; the retriever's order breaks near ties only among those five (round 20: the
    summary's three sentences were quoted instead)."""
    answer = full_kb.ask("Is it a mistake to think open source AI is unsafe?")
    assert "patch vulnerabilities" in answer.text, answer.text


def test_which_things_does_the_text_name_asks_for_examples(full_kb: KnowledgeBase) -> None:
    """"Which X does the article cite / name / mention?" and "Name the X ..." ask for a list of
    instances, as "Which X are mentioned?" does; a question for one thing does not (round 21:
    "Which proprietary offerings does the first article cite as being accessed through an API?"
    quoted the lock-in pitfall, not GPT-4 and Gemini)."""
    for q in ("Which proprietary offerings does the first article cite as being accessed through an API?",
              "Name the zorblax vendors the report cites.", "Give the closed commercial APIs the text mentions.",
              "what api-based closed models does that article name"):
        assert "example" in asked(q), q
    assert "example" not in asked("Which licence does the card name?")
    assert "example" not in asked("What upsides does the article list?")
    answer = full_kb.ask("Which proprietary offerings does the first article cite as being accessed through an API?")
    assert "GPT-4" in answer.text and "Gemini" in answer.text, answer.text


def test_a_sentence_that_gives_examples_in_a_defining_section_defines_nothing() -> None:
    """Under "Defining the Spectrum: ...", "Users typically access these models via an API, like
    those offered by OpenAI's GPT-4 ..." names instances, as a list does: no definition, so no
    definition's penalty (round 21)."""
    from rag.shape import defines

    section = "Defining the Spectrum: Open Models vs. Proprietary Walled Gardens"
    assert not defines("Users access these models via an API, like those offered by OpenAI's GPT-4.", section)
    assert not defines("Projects such as Bloom are prominent.", section)
    assert defines("At its core, the distinction is about accessibility and control.", section)


def test_how_do_people_get_at_it_asks_for_the_way_in(full_kb: KnowledgeBase) -> None:
    """"how do I actually get to use it?", "How do people usually get access to them?" ask how a
    thing is reached: a sentence that says through what (round 21: "If I can't see inside a closed
    model, how do I actually get to use it?" quoted "Closed models typically offer limited
    customization.")."""
    assert_shape("access", ("If I can't see inside a zorblax, how do I actually get to use it?",
                            "How do people usually get access to them?", "How do people usually get at closed models?",
                            "how is it accessed?", "how do users get to them?"),
                 ("How do I use the model in Python?", "How do I get to the point?"),
                 ("These models are typically accessed via APIs or platforms.",
                  "Users typically access these models through a web portal."),
                 ("Closed models typically offer limited customization.",))
    answer = full_kb.ask("If I can't see inside a closed model, how do I actually get to use it?")
    assert "API" in answer.text, answer.text


def test_who_gains_asks_for_people(full_kb: KnowledgeBase) -> None:
    """"who does that help?", "Who does the article say can examine ...?" ask which people: a
    sentence that names some (round 21: "who does that help?" after the first advantage of open
    source quoted the closed side's economics second)."""
    assert_shape("people", ("Who gains the most when zorblaxes are published?", "who does that help?",
                            "Who does the first article say can examine open systems?"),
                 ("Who holds power?", "And who publishes those versions?", "Who organised it?"),
                 ("Researchers, startups, and individuals can build upon state-of-the-art models.",),
                 ("Open models distribute power broadly.",))
    answer = full_kb.ask("Who does the first article say can examine open source AI systems, and for what?")
    assert "Researchers and regulators" in answer.text, answer.text


def test_how_a_thing_works_goes_on_with_its_steps(full_kb: KnowledgeBase) -> None:
    """"How does the contrastive objective work?" is answered with the passage's steps, not its
    first two sentences (round 22: the answer ended before "We then apply the cross entropy loss")."""
    assert asks_steps("How does the contrastive fine-tuning objective actually work?")
    assert asks_steps("What is the fine-tuning procedure, briefly?")
    assert not asks_steps("How do I copy a list?") and not asks_steps("Who organised the community week?")
    answer = full_kb.ask("How does the contrastive fine-tuning objective of the MiniLM model actually work?")
    assert "cosine similarity" in answer.text and "cross entropy loss" in answer.text, answer.text


def test_what_kinds_of_things_fits_a_sentence_that_names_them_in_a_row(full_kb: KnowledgeBase) -> None:
    """"What kinds of differences does the split reflect?" is answered with the sentence that names
    them ("deeper philosophical, economic, and ethical differences"), not a list of examples of
    something else (round 23: a list of open models led)."""
    kinds = asked("what sorts of differences does it reflect?")
    assert kinds_of("what sorts of differences does it reflect?") == "differences"
    sentence = "This distinction is not merely technical—it reflects deeper philosophical, economic, and ethical differences."
    assert fit(kinds, sentence, "", "differences") > 0 and fit(kinds, sentence) == 0
    assert fit(kinds, "Open source AI emphasizes transparency, collaboration, and accessibility.", "", "differences") == 0
    answer = full_kb.ask("Beyond the technical side, what sorts of differences does the defining divide article say "
                         "the open/closed split reflects?")
    assert answer.text.startswith("This distinction is not merely technical"), answer.text
