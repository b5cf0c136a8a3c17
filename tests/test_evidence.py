import pytest

from rag.evidence import names_paper, select_evidence

from conftest import make_paper as paper


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
