from rag.corpus import load
from rag.retrieve import rrf
from rag.text import occurs

from conftest import SEEDS, source

PRUNER = "LLM-Pruner: On the Structural Pruning of Large Language Models"


def test_rrf_rewards_agreement():
    scores = rrf([["a", "b", "c"], ["b", "a", "d"]], k=60)
    assert max(scores, key=scores.get) in ("a", "b")
    assert scores["a"] == scores["b"] > scores["c"] > 0
    assert scores["c"] == scores["d"]


def test_papers_are_grouped_and_ranked(fake_pipeline):
    retrieval = fake_pipeline.retrieve("structural pruning of large language models LLM-Pruner", k=5)
    assert retrieval.papers[0].title == PRUNER
    assert len(retrieval.papers) == 5
    assert len({p.paper_id for p in retrieval.papers}) == 5
    for paper in retrieval.papers:
        fused = [p.fused for p in paper.passages]
        assert fused == sorted(fused, reverse=True)


def test_the_first_papers_are_reordered_by_how_many_question_words_their_abstract_holds(fake_pipeline):
    # The first paper's passages say "draft" and "LLM" often; only the second's abstract holds the description.
    other = source("Adaptive Draft-Verification", "We draft with a tri-gram matrix LLM representation.")
    chimera = source("Chimera", "We introduce a lightweight draft model that captures short-range dependencies and "
                                "reuses the original LLM's representations.")
    third = source("MaskLLM", "Lightweight draft model short-range dependencies original representations.")
    retriever = fake_pipeline.retriever
    retriever.index.abstracts = lambda ids: {p.paper_id: p.text for p in (other, chimera, third)}
    retriever.settings.word_rerank = 2  # the third paper is beyond the reordered ones
    question = "the one with a lightweight draft model capturing short-range dependencies"
    assert retriever.rerank_by_words(question, [other, chimera, third]) == [chimera, other, third]
    assert retriever.rerank_by_words("draft LLM representation", [other, chimera, third]) == [other, chimera, third]
    retriever.settings.word_rerank = 0
    assert retriever.rerank_by_words(question, [other, chimera, third]) == [other, chimera, third]


def test_real_retrieval_on_the_seed_finds_the_pruning_papers(real_pipeline):
    for mode in ("hybrid", "bm25", "dense"):
        titles = [p.title for p in real_pipeline.retriever.search("which papers prune Llama?", 5, mode).papers]
        assert PRUNER in titles, mode
    paraphrase = real_pipeline.retrieve("removing structures from a big language model while keeping its abilities")
    assert PRUNER in [p.title for p in paraphrase.papers]


def test_a_list_question_judges_every_paper_that_names_its_rare_name_first(fake_pipeline):
    # The question's other words ("run experiments") pull up papers about experiments; the papers that name Mistral
    # are what it asks about, wherever the fused ranking put them.
    naming = {p.title for p in load([SEEDS]).papers if occurs("Mistral", f"{p.title}\n{p.abstract}")}
    assert 2 <= len(naming) < fake_pipeline.settings.list_candidates
    question = "Which papers actually run experiments with a Mistral model (not just mention it)?"
    titles = [p.title for p in fake_pipeline.list_candidates(question).papers]
    assert len(titles) == fake_pipeline.settings.list_candidates
    assert set(titles[:len(naming)]) == naming
    # Without a rare name, and within a narrowing's scope, the candidates are those the question finds.
    plain = "Which papers run experiments on small models?"
    assert ([p.title for p in fake_pipeline.list_candidates(plain).papers] ==
            [p.title for p in fake_pipeline.retriever.search(plain, fake_pipeline.settings.list_candidates).papers])
    scope = [p.paper_id for p in fake_pipeline.retriever.search(plain, 3).papers]
    assert {p.paper_id for p in fake_pipeline.list_candidates(question, papers=scope).papers} <= set(scope)
