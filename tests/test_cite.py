import pytest

from rag import prompts
from rag.cite import attribute, resolve
from rag.grounding import is_refusal, ungrounded_terms, uncited_numbers
from rag.errors import UserError
from rag.pipeline import Answer, Sources, Token, names_paper, select_evidence
from rag.retrieve import Passage, RetrievedPaper


def paper(n: int, passages: int = 1) -> RetrievedPaper:
    return RetrievedPaper(f"id{n}", f"Title {n}",
                          [Passage(f"c{n}{i}", f"passage {n}.{i} " * 10, i, 0.5, 0.1 / (i + 1)) for i in range(passages)])


def test_markers_map_to_source_titles_and_bad_ones_are_dropped():
    sources = [paper(1), paper(2)]
    cited = resolve("A [2]. B [1, 2]. C [7]. D [Source 1][3] .", sources)
    assert [(c.n, c.title) for c in cited.citations] == [(2, "Title 2"), (1, "Title 1")]
    assert cited.dropped == 2
    assert cited.text == "A [2]. B [1][2]. C. D [1]."


def test_evidence_fills_the_budget_best_passages_first():
    papers = [paper(1, 3), paper(2, 3)]
    each = len(papers[0].passages[0].text)
    chosen = select_evidence(papers, budget_chars=3 * each + 40)
    assert [p.title for p in chosen] == ["Title 1", "Title 2"]
    assert [len(p.passages) for p in chosen] == [2, 1]


def test_the_best_paper_can_lead_with_more_passages():
    papers = [paper(1, passages=3), paper(2, passages=2), paper(3, passages=2)]
    each = len(papers[0].passages[0].text) + len("Title 1") + 8
    chosen = select_evidence(papers, budget_chars=3 * each, lead=2)
    assert [(p.title, len(p.passages)) for p in chosen] == [("Title 1", 2), ("Title 2", 1)]
    assert [x.position for x in chosen[0].passages] == [0, 1]


def test_a_paper_the_question_names_comes_first_with_all_its_passages():
    papers = [paper(1, passages=2), paper(2, passages=3), paper(3, passages=1)]
    papers[1].title = "MUSE: Machine Unlearning Six-Way Evaluation"
    each = len(papers[0].passages[0].text) + len("Title 1") + 8
    chosen = select_evidence(papers, budget_chars=4 * each + 40, lead=2, question="What does MUSE evaluate?")
    assert [(p.title[:4], len(p.passages)) for p in chosen] == [("Titl", 1), ("MUSE", 3)]


@pytest.mark.parametrize("question, title, named", [
    ("What is a 'concept' in Large Concept Models?", "Large Concept Models: Language Modeling in a Sentence", True),
    ("the 7B Large Concept Model", "Large Concept Models: Language Modeling in a Sentence", True),
    ("how does wechsel initialize embeddings?", "WECHSEL: Effective initialization of subword embeddings", True),
    ("what does MUSEUM contain?", "MUSE: Machine Unlearning Six-Way Evaluation", False),
    ("Which papers study concept drift?", "Large Concept Models: Language Modeling in a Sentence", False),
    ("why do models los accuracy?", "Loss: a study of training curves", False),
    ("what is it?", ": untitled", False),
])
def test_names_paper(question, title, named):
    assert names_paper(question, title) is named


def test_answer_cites_exact_titles_through_the_pipeline(fake_pipeline, seed_titles):
    events = list(fake_pipeline.stream("structural pruning of large language models"))
    assert isinstance(events[0], Sources)
    assert any(isinstance(e, Token) for e in events)
    answer = events[-1]
    assert isinstance(answer, Answer) and not answer.abstained
    assert [c.title for c in answer.citations] == [answer.retrieved[0].title]
    assert {c.title for c in answer.citations} <= seed_titles
    prompt = fake_pipeline.llm.calls[0][1]["content"]
    assert prompt.startswith("Excerpts:\n[1] " + answer.retrieved[0].title)
    assert fake_pipeline.llm.calls[0][0]["content"] == prompts.SYSTEM


@pytest.mark.parametrize("reply", ["I think it is 42.", "It is 42 [9].", prompts.REFUSAL])
def test_uncited_or_refused_answers_become_the_refusal(fake_pipeline, reply):
    fake_pipeline.llm.reply = reply
    answer = fake_pipeline.ask("what is the answer?")
    assert answer.abstained and answer.text == prompts.REFUSAL and answer.citations == []
    assert answer.generated == reply  # what the model said is kept for inspection


def test_retrieval_only_does_not_call_the_llm(fake_pipeline):
    answer = fake_pipeline.ask("pruning", retrieval_only=True)
    assert answer.retrieved and fake_pipeline.llm.calls == []


@pytest.mark.parametrize("question", ["", "   \n\t", "\x00\x01", "x" * 5000])
def test_bad_questions_are_user_errors(fake_pipeline, question):
    with pytest.raises(UserError):
        fake_pipeline.ask(question)


def test_sentences_cite_the_sources_whose_words_they_use():
    sources = [paper(1), RetrievedPaper("id2", "Speed Paper", [Passage("s", "Decoding is 2.7x faster with drafts.", 0, .5, .1)])]
    cited = attribute("Decoding gets 2.7x faster [1]. Unrelated pasta recipes taste good. Bad marker [9].", sources)
    assert cited.text == "Decoding gets 2.7x faster [2]."
    assert [c.title for c in cited.citations] == ["Speed Paper"] and cited.dropped == 1


def test_abbreviations_do_not_end_a_sentence():
    source = [RetrievedPaper("id1", "Vision", [Passage("v", "CLIP tells hippo vs. elephant apart, e.g. in "
                                                          "captioning.", 0, .5, .1)])]
    cited = attribute("CLIP tells hippo vs. elephant apart, e.g. in captioning [1].", source)
    assert cited.text == "CLIP tells hippo vs. elephant apart, e.g. in captioning [1]."


def test_invented_numbers_and_names_and_refusals_are_caught():
    evidence = "FineQuant reaches 3.65 times higher throughput on OPT-175B."
    assert ungrounded_terms("FineQuant reaches 3.65 times on OPT-175B [1].", evidence) == []
    assert ungrounded_terms("It was written by John Smith in 2023 [1].", evidence) == ["2023", "John", "Smith"]
    assert ungrounded_terms("It reaches 3.6 times [1].", evidence) == ["3.6"]
    assert is_refusal("The authors are not mentioned in the excerpts.") and is_refusal(prompts.REFUSAL)
    assert not is_refusal("FineQuant reaches 3.65 times higher throughput [1].")


def test_list_questions_judge_each_candidate_and_list_the_matches(fake_pipeline):
    answer = fake_pipeline.ask("which papers use structural pruning?")
    judged = [c for c in fake_pipeline.llm.calls if "Does the paper match" in c[-1]["content"]]
    assert len(judged) == fake_pipeline.settings.list_candidates
    assert answer.citations and not answer.abstained
    for line, citation in zip(answer.text.splitlines(), answer.citations):
        assert line.startswith(f"- {citation.title} [{citation.n}]: ")


def test_candidates_further_down_the_ranking_need_a_surer_yes(fake_pipeline, monkeypatch):
    monkeypatch.setattr(fake_pipeline.llm, "yes_probability", lambda messages: 0.3)
    fake_pipeline.settings.list_threshold, fake_pipeline.settings.list_rank_step = 0.2, 0.03
    answer = fake_pipeline.ask("which papers use structural pruning?")
    assert [c.n for c in answer.citations] == [1, 2, 3, 4]  # rank 5 would need 0.32


def test_low_retrieval_score_refuses_without_the_llm(fake_pipeline):
    fake_pipeline.settings.min_score = 0.99
    answer = fake_pipeline.ask("how do they prune Llama?")
    assert answer.abstained and answer.text == prompts.REFUSAL and fake_pipeline.llm.calls == []


def test_a_number_must_be_in_the_source_its_sentence_cites():
    sources = [RetrievedPaper("a", "Chimera", [Passage("a0", "A draft model with 7 layers.", 0, 0.5, 0.1)]),
               RetrievedPaper("b", "Other", [Passage("b0", "A model with 101B parameters.", 0, 0.5, 0.1)])]
    assert uncited_numbers("Chimera's draft model has 101B parameters [1].", sources) == ["101"]
    assert uncited_numbers("It has 7 layers [1]. The other has 101B parameters [2].", sources) == []
    assert uncited_numbers("mChimera has 101B parameters [1]. xOther has 7 layers [2].", sources) == ["101", "7"]
