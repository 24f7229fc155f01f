"""The llm answerer on the repository's question sets, one evidence layout and answer rule (the
system prompt's last line) at a time: fact recall, questions with all facts, false abstentions,
how often the extractive fallback is shown (the model gave no usable answer), how many answers
are one short sentence, and how many of the model's sentences the check removed.

    RAG_MODELS_DIR=... python bench/llm_evidence.py [--layout sentences passage-first]
        [--rule short copy own-words] [--split dev]

Sets: tests/data/qa.jsonl (rows without a "split" are dev), qa_paraphrase.jsonl and
qa_related.jsonl (their dev rows), over corpus/. The model's replies are cached by prompt in
--cache (temperature 0: the same prompt gets the same reply), so a layout that gives a question
the same evidence costs nothing again. Per-question answers, with the prompt and the raw reply,
go to --answers; the figures to bench/results/llm_evidence-SPLIT-corpus.json. Choose on dev."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from run_suite import REPO, RESULTS, open_corpus, save_result

import rag.answer.evidence as evidence
import rag.answer.llm as llm
from rag.answer import verify
from rag.evaluate import QAItem, fact_recall, load_qa
from rag.text import MARKER, split_sentences

SETS = ("qa.jsonl", "qa_paraphrase.jsonl", "qa_related.jsonl")
# an answer of one sentence with fewer words than this is "one short sentence" (a reader asked
# for more; issue 18's qa sets name two or three facts for most questions)
SHORT_WORDS = 15
# the system prompt's last line (rag.answer.llm.ANSWER_RULE) to try
RULES = {
    "short": "Answer in one to four short sentences.",
    "own-words": ("Answer in one to four sentences, in the passages' own words. Do not just repeat the "
                  "question with yes or no: say what the passages say."),
    "copy": ("Answer in one to four short sentences, copying the passages' words; never answer by only "
             "repeating the question."),
    "copy-yes": ("Answer in one to four short sentences, copying the passages' words; never answer by only "
                 "repeating the question: to a yes or no question, copy the sentence that says yes or no."),
}


class CachedChat:
    """The chat model, its streamed replies cached by prompt (and the last prompt kept)."""

    def __init__(self, llm: Any, path: Path) -> None:
        self.llm, self.path = llm, path
        self.cache: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
        self.last: tuple[str, str] = ("", "")

    def stream(self, messages: list[Any]) -> Iterator[Any]:
        key = "\n\n".join(str(m.content) for m in messages)
        if key not in self.cache:
            self.cache[key] = "".join(str(c.content) for c in self.llm.stream(messages))
            self.path.write_text(json.dumps(self.cache))
        self.last = (str(messages[-1].content), self.cache[key])
        yield type("Chunk", (), {"content": self.cache[key]})()

    def invoke(self, *args: Any, **kwargs: Any) -> Any:
        return self.llm.invoke(*args, **kwargs)


class Checked:
    """rag.answer.llm's check, wrapped: the evidence of the last check kept, so each sentence
    the check removed can be shown beside why (verify.rejection)."""

    def __init__(self, embedder: Any) -> None:
        self.embedder, self.check = embedder, llm.check
        self.hits: list[Any] = []
        self.question = ""

    def __call__(self, reply: str, hits: Any, embedder: Any, question: str = "") -> Any:
        self.hits, self.question = list(hits), question
        return self.check(reply, hits, embedder, question)

    def reasons(self, claims: list[str]) -> list[str]:
        sim = verify.Similarity(self.embedder)
        return [("restates the question" if verify.restates(c, self.question) else verify.rejection(c, self.hits, sim))
                for c in claims] if self.hits else []


def question_sets(split: str) -> dict[str, list[QAItem]]:
    data = REPO / "tests" / "data"
    out = {}
    for name in SETS:
        rows = [json.loads(line) for line in (data / name).read_text().splitlines() if line.strip()]
        if any("split" in r for r in rows):
            out[name] = load_qa(data / name, split)
        elif split == "dev":  # a set without halves is all dev
            out[name] = load_qa(data / name)
    return out


def short(answer: str) -> bool:
    sentences = split_sentences(MARKER.sub("", answer))
    return len(sentences) == 1 and len(sentences[0].split()) < SHORT_WORDS


def run(kb: Any, chat: CachedChat, items: list[QAItem], checked: Checked) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    rows = []
    for item in items:
        chat.last = ("", "")
        checked.hits = []
        answer = kb.ask(item.question, answerer="llm")
        prompt, reply = chat.last
        rows.append({
            "question": item.question, "answerable": item.answerable, "abstained": answer.abstained,
            "answerer": answer.answerer, "answer": answer.text, "unsupported": list(answer.unsupported),
            "why": checked.reasons(list(answer.unsupported)),
            "facts": fact_recall(answer.text, item.answers) if item.answerable and item.answers else None,
            "facts_in_prompt": fact_recall(prompt, item.answers) if prompt and item.answers else None,
            "prompt_chars": len(prompt), "prompt": prompt, "reply": reply,
            "short": not answer.abstained and short(answer.text),
        })
    answerable = [r for r in rows if r["answerable"]]
    answered = [r for r in rows if not r["abstained"]]
    prompts = [r["prompt_chars"] for r in rows if r["prompt_chars"]]
    summary = {
        "answerable": len(answerable), "off_topic": len(rows) - len(answerable),
        "fact_recall": round(statistics.mean(r["facts"] or 0.0 for r in answerable), 3),
        "all_facts": sum(r["facts"] == 1.0 for r in answerable),
        "false_abstentions": sum(r["abstained"] for r in answerable),
        "off_topic_answered": sum(not r["abstained"] for r in rows if not r["answerable"]),
        "fallback": sum(r["answerer"] == "extractive" for r in answered),
        "answered": len(answered),
        "short": sum(r["short"] for r in answered),
        # the model's sentences that the check removed: in answers shown, and in all replies
        "unsupported_shown": sum(len(r["unsupported"]) for r in answered if r["answerer"] == "llm"),
        "unsupported_all": sum(len(r["unsupported"]) for r in rows),
        "facts_in_prompt": round(statistics.mean(r["facts_in_prompt"] or 0.0 for r in answerable
                                                 if r["prompt_chars"]), 3) if prompts else None,
        "median_prompt_chars": int(statistics.median(prompts)) if prompts else 0,
    }
    return summary, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layout", nargs="*", default=[evidence.LAYOUT], choices=evidence.LAYOUTS)
    parser.add_argument("--rule", nargs="*", choices=list(RULES),
                        default=[name for name, rule in RULES.items() if rule == llm.ANSWER_RULE])
    parser.add_argument("--split", default="dev")
    parser.add_argument("--sets", nargs="*", default=list(SETS))
    parser.add_argument("--index", type=Path, default=Path("/tmp/llm_evidence-index"))
    parser.add_argument("--cache", type=Path, default=Path("/tmp/llm_evidence-replies.json"))
    parser.add_argument("--answers", type=Path, default=Path("/tmp/llm_evidence-answers.json"))
    args = parser.parse_args()
    os.environ["RAG_ANSWERER"] = "llm"
    kb = open_corpus(REPO / "corpus", args.index)
    answerer: Any = kb.answerer("llm")
    chat = CachedChat(answerer.llm, args.cache)
    answerer.llm = chat
    checked = Checked(answerer.embedder)
    llm.check = checked  # type: ignore[assignment]
    sets = {name: items for name, items in question_sets(args.split).items() if name in args.sets}
    table: list[dict[str, Any]] = []
    answers: dict[str, Any] = json.loads(args.answers.read_text()) if args.answers.exists() else {}
    prompt = llm.SYSTEM_PROMPT
    for layout, rule in [(layout, rule) for layout in args.layout for rule in args.rule]:
        evidence.LAYOUT = layout
        llm.SYSTEM_PROMPT = prompt.replace(llm.ANSWER_RULE, RULES[rule])
        for name, items in sets.items():
            summary, rows = run(kb, chat, items, checked)
            table.append({"layout": layout, "rule": rule, "set": name, **summary})
            answers[f"{layout}+{rule}/{name}"] = rows
            args.answers.write_text(json.dumps(answers, indent=1))
            print(json.dumps(table[-1]), file=sys.stderr)
    # rows of earlier runs for other layouts and rules stay in the results file
    saved = RESULTS / f"llm_evidence-{args.split}-corpus.json"
    done = {(r["layout"], r["rule"], r["set"]) for r in table}
    kept = [r for r in (json.loads(saved.read_text())["results"] if saved.exists() else [])
            if (r["layout"], r.get("rule"), r["set"]) not in done]
    save_result(f"llm_evidence-{args.split}", kept + table, domains=["corpus"])
    for row in table:
        print(" ".join(f"{k}={v}" for k, v in row.items()))


if __name__ == "__main__":
    main()
