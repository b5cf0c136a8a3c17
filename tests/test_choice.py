"""Choice questions ("Which …: A or B?"): each option answered on its own, from its own paper."""

import pytest

from rag import prompts
from rag.choice import choice

from fakes import ScriptedLLM


@pytest.mark.parametrize("question, asked, options", [
    ("Which gives the larger speedup: Chimera or Token Recycling?", "Which gives the larger speedup",
     ("Chimera", "Token Recycling")),
    ("which saw more training tokens — the small bilingual model, or the cheaply grown 100B model?",
     "which saw more training tokens", ("small bilingual model", "cheaply grown 100B model")),
    ("Which is faster, Medusa or Chimera", "Which is faster", ("Medusa", "Chimera")),
])
def test_choice_questions_are_split_into_what_is_asked_and_two_options(question, asked, options):
    found = choice(question)
    assert (found.asked, found.options) == (asked, options)


@pytest.mark.parametrize("question", ["which papers prune Llama or Mistral?", "What is MEXA?",
                                      "Did they use LoRA, or full fine-tuning?", "Is it faster: A or B?"])
def test_other_questions_are_not_choices(question):
    assert choice(question) is None


QUESTION = "Which reports the higher compression ratio: MaskLLM or SpQR?"


def test_each_option_is_answered_from_its_own_paper_and_the_answer_cites_both(fake_pipeline):
    answer = fake_pipeline.ask(QUESTION)
    prompts_seen = [call[-1]["content"] for call in fake_pipeline.llm.calls]
    assert len(prompts_seen) == 2
    assert prompts_seen[0].startswith("Excerpts:\n[1] MaskLLM") and "[2]" not in prompts_seen[0]
    assert prompts_seen[1].startswith("Excerpts:\n[2] SpQR") and "MaskLLM" not in prompts_seen[1]
    assert prompts_seen[1].endswith("Question: Which reports the higher compression ratio — what do the excerpts "
                                    "report for SpQR?")
    assert [c.title.split(":")[0] for c in answer.citations] == ["MaskLLM", "SpQR"]


def test_an_option_the_model_cannot_answer_leaves_the_other(fake_pipeline):
    fake_pipeline.llm = ScriptedLLM("MaskLLM establishes semi-structured sparsity [1].", prompts.REFUSAL)
    answer = fake_pipeline.ask(QUESTION)
    assert not answer.abstained and [c.title.split(":")[0] for c in answer.citations] == ["MaskLLM"]


def test_options_that_find_the_same_paper_are_answered_as_one_question(fake_pipeline):
    fake_pipeline.ask("Which is larger: MaskLLM or MaskLLM's sparsity?")
    assert len(fake_pipeline.llm.calls) == 1
