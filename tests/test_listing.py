import pytest

from rag.listing import is_list_question


@pytest.mark.parametrize("question", [
    "which papers prune Llama?",
    "papers on letting LLMs handle inputs longer than their training length?",
    "Are there any papers on protein structure prediction?",
    "any work on forecasting stock prices with time-series transformers?",
    "Which studies evaluate unlearning?",
    "list works that use LoRA",
    "Are there studies on unlearning?",
    "Find works that use LoRA",
])
def test_questions_asking_for_a_set_of_papers_are_list_questions(question):
    assert is_list_question(question)


@pytest.mark.parametrize("question", [
    "which picture model works best on the vision-and-language benchmarks?",
    "In the Minitron pruning + distillation work, how many fewer training tokens are needed?",
    "What does the MUSE paper study?",
    "How well does this work on long inputs?",
    "Which tokenizer works better for German?",
    "Which method works the best?",
    "How does MUSE compare to prior work?",
    "Which work introduced Large Concept Models?",
])
def test_questions_about_one_paper_are_not_list_questions(question):
    assert not is_list_question(question)
