"""`rag eval` and `rag bench`: the metric functions on hand-made inputs (the IR ones checked
against ranx), the shipped question sets, and both commands end to end on small data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.benchmark import doc_run, read_beir, write_corpus
from rag.cli import main
from rag.evaluate import (
    ItemResult,
    abstention_correct,
    citation_valid,
    fact_recall,
    group_citations,
    load_qa,
    percentile,
    ranked_sources,
    recall_at_k,
    reciprocal_rank,
    summarize,
)
from rag.types import Chunk, Hit

DATA = Path(__file__).resolve().parent / "data"
CORPUS = Path(__file__).resolve().parent.parent / "corpus"

RANKINGS = [
    (["a", "b", "c", "d"], {"c"}),
    (["a", "a", "b", "c"], {"a", "c"}),  # repeated sources: a document ranks by its best chunk
    (["x", "y"], {"z"}),
    (["b", "a", "b", "c", "e", "f"], {"e", "f", "a"}),
    ([], {"a"}),
]


# -- pure metric functions -----------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_recall_and_mrr_agree_with_ranx(k: int) -> None:
    from ranx import Qrels, Run, evaluate

    qrels = {f"q{i}": dict.fromkeys(rel, 1) for i, (_, rel) in enumerate(RANKINGS)}
    run = {}
    for i, (ranking, _) in enumerate(RANKINGS):
        docs = ranked_sources(ranking)
        run[f"q{i}"] = {d: float(len(docs) - r) for r, d in enumerate(docs)} or {"none": 0.0}
    ours_recall = [recall_at_k(r, rel, k) for r, rel in RANKINGS]
    ours_rr = [reciprocal_rank(r, rel, k) for r, rel in RANKINGS]
    theirs = evaluate(Qrels(qrels), Run(run), [f"recall@{k}", f"mrr@{k}"], return_mean=False)
    assert ours_recall == pytest.approx(list(theirs[f"recall@{k}"]))
    assert ours_rr == pytest.approx(list(theirs[f"mrr@{k}"]))


def test_recall_and_rank_by_hand() -> None:
    assert recall_at_k(["a", "a", "b"], {"b"}, 2) == 1.0  # the repeat does not push b out
    assert recall_at_k(["a", "b", "c"], {"c", "d"}, 3) == 0.5
    assert reciprocal_rank(["a", "a", "b"], {"b"}, 5) == 0.5
    assert reciprocal_rank(["a", "b"], {"b"}, 1) == 0.0
    assert recall_at_k(["a"], set(), 3) == 0.0


def test_fact_recall() -> None:
    facts = [["Stable Diffusion"], ["recipe", "kitchen"], ["Meta's Llama"]]
    assert fact_recall("stable  diffusion [1] is open; a kitchen [2].", facts) == pytest.approx(2 / 3)
    assert fact_recall("Meta’s LLaMA [1]", facts) == pytest.approx(1 / 3)  # curly apostrophe
    assert fact_recall("nothing relevant", facts) == 0.0
    assert fact_recall("anything", []) == 0.0
    # a marker between words must not hide a phrase, nor make one up
    assert fact_recall("Stable [1] Diffusion", [["Stable Diffusion"]]) == 1.0
    assert fact_recall("recip [1] e", [["recipe"]]) == 0.0


def test_citation_valid() -> None:
    text = "Alpha beta. Gamma delta."
    assert citation_valid("Gamma delta.", text, 12, 24)
    assert not citation_valid("Gamma delta.", text, 11, 23)
    assert not citation_valid("Gamma", text, 12, 99)
    assert not citation_valid("Gamma", None, 0, 5)


def test_group_citations_carries_a_marker_back_over_its_run() -> None:
    from rag.citations import cited_sentences

    answer = "First one. Second one. [1] Third. [2][3] Trailing without marker."
    grouped = group_citations(cited_sentences(answer))
    assert grouped == [("First one.", [1]), ("Second one.", [1]), ("Third.", [2, 3]),
                       ("Trailing without marker.", [])]


def test_percentile_matches_numpy() -> None:
    import numpy as np

    values = [12.0, 3.0, 7.5, 100.0, 42.0, 8.0, 9.0]
    for q in (0, 50, 90, 95, 100):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))
    assert percentile([], 50) == 0.0


def _item(answerable: bool, abstained: bool, **kw: object) -> ItemResult:
    base: dict[str, object] = dict(
        question="q", answerable=answerable, abstained=abstained, answer="", retrieved=(),
        recall=None, reciprocal_rank=None, fact_recall=None, citations=0, valid_citations=0,
        sentences=0, supported_sentences=0, latency_ms=10.0,
    )
    base.update(kw)
    return ItemResult(**base)  # type: ignore[arg-type]


def test_summarize_counts_false_abstentions() -> None:
    items = [
        _item(True, False, recall=1.0, reciprocal_rank=1.0, fact_recall=1.0, citations=2, valid_citations=2,
              sentences=2, supported_sentences=1, latency_ms=100.0),
        _item(True, True, recall=0.0, reciprocal_rank=0.0, fact_recall=0.0, latency_ms=20.0),  # false abstention
        _item(False, True, latency_ms=30.0),
        _item(False, False, citations=1, valid_citations=0, sentences=1, latency_ms=40.0),  # should have abstained
    ]
    report = summarize("extractive", 5, items)
    assert report.questions == 4 and report.answerable == 2
    assert report.recall_at_k == 0.5 and report.mrr == 0.5 and report.fact_recall == 0.5
    assert report.citation_validity == pytest.approx(2 / 3)
    assert report.citation_support == pytest.approx(1 / 3)
    assert report.abstention_accuracy == 0.5
    assert report.abstained_on_unanswerable == 0.5
    assert report.false_abstention_rate == 0.5
    assert report.latency_ms_median == 35.0
    assert abstention_correct(True, False) and not abstention_correct(True, True)
    json.dumps(report.to_json())  # serializable


# -- the shipped question sets -------------------------------------------------------------
@pytest.mark.parametrize(("name", "minimum", "unanswerable_share"),
                         [("qa.jsonl", 45, 1 / 3), ("qa_holdout.jsonl", 12, 1 / 3),
                          ("qa_articles_independent.jsonl", 30, 8 / 34), ("qa_paraphrase.jsonl", 30, 2 / 30),
                          ("qa_fresh_articles.jsonl", 30, 4 / 30), ("qa_fresh_related.jsonl", 24, 4 / 24),
                          ("qa_fresh2_articles.jsonl", 32, 4 / 32), ("qa_fresh2_related.jsonl", 26, 3 / 26),
                          ("qa_fresh3_articles.jsonl", 32, 4 / 32), ("qa_fresh3_related.jsonl", 26, 3 / 26),
                          ("qa_fresh4_articles.jsonl", 32, 4 / 32), ("qa_fresh4_related.jsonl", 28, 4 / 28),
                          ("qa_fresh5_articles.jsonl", 32, 4 / 32), ("qa_fresh5_related.jsonl", 28, 4 / 28),
                          ("qa_fresh6_articles.jsonl", 32, 4 / 32), ("qa_fresh6_related.jsonl", 28, 4 / 28),
                          ("qa_fresh7_articles.jsonl", 32, 4 / 32), ("qa_fresh7_related.jsonl", 28, 4 / 28),
                          ("qa_fresh8_articles.jsonl", 34, 4 / 34), ("qa_fresh8_related.jsonl", 30, 4 / 30),
                          ("qa_fresh9_articles.jsonl", 34, 4 / 34), ("qa_fresh9_related.jsonl", 30, 4 / 30),
                          ("qa_fresh10_articles.jsonl", 34, 4 / 34), ("qa_fresh10_related.jsonl", 30, 4 / 30),
                          ("qa_fresh11_articles.jsonl", 34, 4 / 34), ("qa_fresh11_related.jsonl", 30, 4 / 30),
                          ("qa_fresh12_articles.jsonl", 34, 4 / 34), ("qa_fresh12_related.jsonl", 30, 4 / 30),
                          ("qa_fresh13_articles.jsonl", 34, 4 / 34), ("qa_fresh13_related.jsonl", 30, 4 / 30),
                          ("qa_fresh14_articles.jsonl", 34, 4 / 34), ("qa_fresh14_related.jsonl", 30, 4 / 30)])
def test_question_sets_are_sound(name: str, minimum: int, unanswerable_share: float) -> None:
    items = load_qa(DATA / name)
    assert len(items) >= minimum
    unanswerable = [i for i in items if not i.answerable]
    assert abs(len(unanswerable) - len(items) * unanswerable_share) <= 1
    # up to line breaks: a licence's lines are wrapped, an answer's quotes are not
    texts = {p.relative_to(CORPUS).as_posix(): " ".join(p.read_text(encoding="utf-8").lower().split())
             for p in CORPUS.rglob("*") if p.is_file() and not p.name.startswith(".")}
    for item in items:
        if not item.answerable:
            assert not item.answers and not item.sources
            continue
        assert item.answers and item.sources and set(item.sources) <= set(texts)
        for fact in item.answers:
            for phrase in fact:  # every key phrase is verbatim in one of the expected sources
                assert any(phrase.lower() in texts[s] for s in item.sources), (item.question, phrase)


def test_entry_questions_count_the_right_entry_cited(tmp_path: Path) -> None:
    qa = tmp_path / "qa.jsonl"
    qa.write_text('{"question": "q?", "sources": ["a.txt"], "entry": {"source": "a.txt", "start": 0, "end": 9}}\n'
                  '{"question": "off?", "answerable": false}\n')
    items = load_qa(qa)
    assert items[0].entry == "a.txt" and items[1].entry is None
    report = summarize("extractive", 5, [_item(True, False, entry_cited=True), _item(True, False, entry_cited=False),
                                         _item(True, True, entry_cited=False), _item(False, True)])
    assert report.entry_cited == pytest.approx(1 / 3)
    assert summarize("extractive", 5, [_item(True, False)]).entry_cited is None


def test_eval_without_a_question_set_says_what_to_pass(tmp_path: Path) -> None:
    (tmp_path / "corpus").mkdir()
    assert main(["eval", "--corpus", str(tmp_path / "corpus"), "--index", str(tmp_path / "index")]) != 0


def test_load_qa_names_the_bad_line(tmp_path: Path) -> None:
    from rag.errors import ConfigError

    bad = tmp_path / "qa.jsonl"
    bad.write_text('{"question": "ok?", "answerable": false}\n{"answers": []}\n')
    with pytest.raises(ConfigError, match=r"qa.jsonl:2"):
        load_qa(bad)


# -- rag eval end to end -------------------------------------------------------------------
def test_rag_eval_json_end_to_end(articles_kb, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [
        {"question": "Which image generation model is listed as an example of open source AI?",
         "answers": [["Stable Diffusion"]], "sources": ["defining-divide-open-vs-closed-ai.txt"], "answerable": True},
        {"question": "What harmful activities could bad actors repurpose models for?",
         "answers": [["disinformation"], ["cyberattacks"]], "sources": ["open-vs-closed-source-ai.txt"],
         "answerable": True},
        {"question": "How do I bake sourdough bread?", "answers": [], "sources": [], "answerable": False},
    ]
    qa = tmp_path / "tiny.jsonl"
    qa.write_text("".join(json.dumps(r) + "\n" for r in rows))
    s = articles_kb.settings
    code = main(["eval", "--corpus", str(s.corpus_dir), "--index", str(s.index_dir), "--qa", str(qa), "--json", "-k", "3"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["questions"] == 3 and report["answerable"] == 2 and report["k"] == 3
    for key in ("recall_at_k", "mrr", "fact_recall", "abstention_accuracy", "abstained_on_unanswerable",
                "false_abstention_rate"):
        assert 0.0 <= report[key] <= 1.0, key
    for key in ("citation_validity", "citation_support"):
        assert report[key] is None or 0.0 <= report[key] <= 1.0, key
    assert report["recall_at_k"] == 1.0  # two documents, k=3: the source is always among them
    assert 0 < report["latency_ms_median"] <= report["latency_ms_p95"]
    assert len(report["items"]) == 3
    answered = [i for i in report["items"] if not i["abstained"]]
    if answered:  # the extractive answerer quotes its sources exactly
        assert report["citation_validity"] == 1.0


def test_rag_eval_table(articles_kb, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    qa = tmp_path / "one.jsonl"
    qa.write_text(json.dumps({"question": "What is the capital of Australia?", "answerable": False}) + "\n")
    s = articles_kb.settings
    assert main(["eval", "--corpus", str(s.corpus_dir), "--index", str(s.index_dir), "--qa", str(qa)]) == 0
    out = capsys.readouterr().out
    assert "abstention accuracy" in out and "latency p95" in out


# -- rag bench -----------------------------------------------------------------------------
TOPICS = {
    "volcano": ("Volcanoes", "A volcano erupts when molten rock called magma rises through the crust and "
                "escapes as lava, ash and gas."),
    "bread": ("Baking bread", "Bread dough rises because yeast ferments sugars and releases carbon dioxide; "
              "bakers knead the dough to develop gluten."),
    "tides": ("Ocean tides", "Tides are caused mainly by the gravitational pull of the Moon on the oceans, "
              "giving two high tides a day."),
    "chess": ("Chess openings", "The Sicilian Defence is a chess opening in which Black answers 1.e4 with c5."),
    "bees": ("Honey bees", "Honey bees communicate the direction of flowers with the waggle dance."),
    "rust": ("Rusting", "Iron rusts when it reacts with oxygen and water to form hydrated iron oxide."),
}
QUERIES = {"q1": ("Why does bread dough rise?", "bread"), "q2": ("What causes ocean tides?", "tides"),
           "q3": ("How do bees tell each other where flowers are?", "bees")}


def make_beir(folder: Path) -> Path:
    (folder / "qrels").mkdir(parents=True)
    with open(folder / "corpus.jsonl", "w") as fh:
        for doc_id, (title, text) in TOPICS.items():
            fh.write(json.dumps({"_id": doc_id, "title": title, "text": text}) + "\n")
        fh.write(json.dumps({"_id": "untitled/1", "title": "", "text": "A document without a title."}) + "\n")
    with open(folder / "queries.jsonl", "w") as fh:
        for qid, (text, _) in QUERIES.items():
            fh.write(json.dumps({"_id": qid, "text": text}) + "\n")
        fh.write(json.dumps({"_id": "unjudged", "text": "No judgement for me"}) + "\n")
    rows = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t1" for q, (_, d) in QUERIES.items()] + ["q1\tchess\t0"]
    (folder / "qrels" / "test.tsv").write_text("\n".join(rows) + "\n")
    return folder


def test_read_and_write_beir(tmp_path: Path) -> None:
    beir = read_beir(make_beir(tmp_path / "beir"))
    assert set(beir.queries) == set(QUERIES)  # the unjudged query is left out
    assert beir.qrels["q1"] == {"bread": 1}  # relevance 0 is not a judgement
    names = write_corpus(beir, tmp_path / "corpus")
    assert sorted(names.values()) == sorted(beir.corpus)
    assert all((tmp_path / "corpus" / n).is_file() for n in names)
    untitled = next(n for n, d in names.items() if d == "untitled/1")
    assert untitled.endswith(".txt") and "/" not in untitled


def test_doc_run_ranks_documents_by_best_chunk() -> None:
    def hit(source: str, start: int) -> Hit:
        return Hit(Chunk(source, "", "t", start, start + 1), 1.0)

    hits = [hit("f1", 0), hit("f2", 0), hit("f1", 5), hit("f3", 0)]
    run = doc_run(hits, {"f1": "d1", "f2": "d2", "f3": "d3"}, 2)
    assert list(run) == ["d1", "d2"] and run["d1"] > run["d2"]


def test_rag_bench_on_a_tiny_beir_set(embedder, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = make_beir(tmp_path / "beir")
    assert main(["bench", "--beir", str(folder), "--json", "-k", "3"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["retrievers"]) == {"bm25", "dense", "hybrid"}
    assert report["documents"] == 7 and report["queries"] == 3 and report["chunks"] >= 7
    assert report["chunks_per_second"] > 0
    for name, m in report["retrievers"].items():
        for metric in ("ndcg@3", "recall@3", "mrr@3"):
            assert 0.0 <= m[metric] <= 1.0, (name, metric)
        assert m["latency_ms_median"] > 0
    # one obviously relevant document per query: dense and hybrid find every one first
    assert report["retrievers"]["dense"]["mrr@3"] == 1.0
    assert report["retrievers"]["hybrid"]["recall@3"] == 1.0


def test_rag_bench_rejects_a_folder_that_is_not_beir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--beir", str(tmp_path)]) == 2
    assert "not a BEIR data set" in capsys.readouterr().err
