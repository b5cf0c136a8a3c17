"""Text rules: what a "how many" question counts, and what each number of a text counts."""

import pytest

from rag.text import (ASKS_NAMES, QUANTITY, content_terms, counted_nouns, counts, counts_what_is_asked, figures,
                      name_after, names, names_near, numbers, occurs, sentences, strip_markers)


@pytest.mark.parametrize("question, nouns", [
    ("How many hours of audio trained it?", ["hours"]),
    ("how many GPU hours did it take to derive Minitron 8B?", ["hours"]),
    ("How many Indian and African languages did it test?", ["Indian", "languages"]),
    ("What ROUGE score does it get?", []),
    ("ppo vs plain sft on glue, how many points better?", ["points"]),
    ("how many points above plain zero-shot prompting does it land on GLUE?", ["points"]),
    ("how many of its scenarios had never been used before?", ["scenarios"]),
    ("how many of them were new?", []),
    ("and how many of the methods avoided serious privacy leakage?", ["methods"]),
    ("how many under-resourced languages does it cover?", ["languages"]),  # "under-" is no preposition
    ("how many of its training data was synthetic?", []),
    ("How many times faster than the encoder-decoder is it?", ["times"]),
    ("How many fewer tokens does it need?", ["tokens"]),
    ("How many more?", ["more"]),
    ("How does it decide how many bits each expert gets?", []),  # asks how it decides
    ("Do you know how many languages it covers?", ["languages"]),
    ("Do they report how many GPUs they used?", ["GPUs"]),
])
def test_what_a_how_many_question_counts(question, nouns):
    assert counted_nouns(question) == nouns


def test_each_number_counts_the_words_after_it_past_scales_and_up_to_a_stopword():
    assert counts("It uses 10 million samples of data and four key aspects in total [1].") == [
        ("10", ["samples"]), ("million", ["samples"]), ("four", ["key", "aspects"])]
    assert counts("It reaches 3.65 times higher throughput.") == [("3.65", ["higher", "throughput"])]
    assert counts("WER rose by 14pp, with 770M parameters.") == [("14pp", ["pp"]), ("770M", ["parameters"])]
    assert counts_what_is_asked("WER increased by 14pp.", "by how many points did WER rise?")


@pytest.mark.parametrize("question, asks", [
    ("Which saw more training tokens: GEB-1.3B or FLM-101B?", True),
    ("which gives the larger speedup over plain decoding", True),
    ("Which paper prunes Llama?", False),
    ("Are there telecom models? What sizes do they come in?", True),
    ("What scores does it get?", True),
    ("What sizeable gain is there?", False),
    ("How do they measure how much faster it is?", False),
    ("how cheap was it to train that 101B model?", True),
    ("how far did they push the sequence length?", True),
    ("What Wikitext perplexity does MaskLLM reach?", True),
    ("How does it keep the cost low?", False),
    ("what are the training costs?", True),
    ("What did it cost in dollars to train GEB-1.3B?", True),
    ("What reduces latency?", False),
])
def test_comparing_amounts_or_asking_sizes_asks_for_a_quantity(question, asks):
    assert (QUANTITY.search(question) is not None) == asks


def test_what_a_number_counts_runs_past_its_adjectives_to_the_noun():
    assert counts("It was evaluated on four diverse open-source test sets.") == [
        ("four", ["diverse", "open-source", "test", "sets"])]


@pytest.mark.parametrize("question, asks", [
    ("Which two encoders does WavLLM use?", "Which two encoders"),
    ("which picture model works best on the benchmarks?", "which picture model"),
    ("Which parallel corpora does MEXA use?", "Which parallel corpora"),
    ("which four languages did they test?", "which four languages"),
    ("What model does CosyVoice use?", None),  # "a flow matching model" answers it
    ("Which papers use LLMs?", None),  # a list
    ("which model size is best?", None),  # a size
    ("which TTS systems exactly did they use?", "which TTS systems"),
    ("which system prompts did they try?", None),  # prompts
    ("which search algorithm is used?", None),  # "beam search" answers it
])
def test_which_question_asks_for_named_models_datasets_or_languages(question, asks):
    found = ASKS_NAMES.search(question)
    assert (found.group(0) if found else None) == asks


def test_punctuation_ends_what_a_number_counts():
    assert counts("It covers four key aspects: application scenarios and benchmarks.") == [("four", ["key", "aspects"])]


def test_a_marker_taken_out_leaves_no_double_space():
    assert strip_markers("Yes, [1] demonstrates it [2].") == "Yes, demonstrates it."
    assert strip_markers("The report by [1] states a 2x speedup.") == "The report states a 2x speedup."
    assert strip_markers("The speedup in [1] (2.7x) is larger than in [2].") == "The speedup in (2.7x) is larger than in."


def test_a_web_address_is_one_term_and_holds_no_numbers_or_names():
    text = "Code: https://github.com/Horseee/LLM-Pruner-2.0, data at www.example.org/v3. It is 3.65x faster."
    assert {"https://github.com/horseee/llm-pruner-2.0", "www.example.org/v3"} <= content_terms(text)
    assert not {"horseee", "github"} & content_terms(text)
    assert numbers(text) == ["3.65"] and "Horseee" not in names(text)


def test_a_model_name_typed_in_lower_case_with_its_size_is_a_name():
    assert names("what is the accuracy gap on llama2-13b or 70b?") == ["llama2-13b"]
    assert names("does it beat gpt-4 or gpt-3.5, like mistral-7b-instruct?") == ["gpt-4", "gpt-3.5", "mistral-7b-instruct"]
    assert names("top-1 accuracy of sub-1b models with 4-bit weights") == []


def test_no_dot_before_a_number_ends_no_sentence():
    assert sentences("It scored 69.32, ranking No. 1 on MTEB (see Fig. 3). No. It was second.") == [
        "It scored 69.32, ranking No. 1 on MTEB (see Fig. 3).", "No.", "It was second."]


def test_figures_have_units_and_the_digits_of_names_or_enumerators_are_none():
    assert figures("(2) GPT-3 and LLaMA2-7B gain 28.8 points, 3.65x the speed, 50% less and ~4-bit weights.") == [
        ("28.8", "points"), ("3.65", "x"), ("50", "%"), ("4", "bit")]


def test_the_names_a_number_is_said_of_are_its_neighbours_in_its_clause():
    sentence = "Tuned with PPO, LLaMA2-7B beat BERT-large by 28.8 points on SuperGLUE across all the eight tasks of it."
    assert names_near("28.8", sentence) == ["LLaMA2-7B", "BERT-large", "SuperGLUE"]  # not PPO, of the clause before
    assert names_near("28.8", sentence, width=2) == ["BERT-large"]
    assert names_near("7", sentence) == []  # the 7 of LLaMA2-7B is part of a name


def test_the_name_a_figure_is_on_is_the_first_name_after_it_in_its_clause():
    sentence = "PPO outperforms BERT-large by 2.7 points on GLUE and 9.3 points on SuperGLUE, ahead of Llama."
    assert [name_after(n, sentence) for n in ("2.7", "9.3")] == ["GLUE", "SuperGLUE"]
    assert name_after("9.3", "It gains 9.3 points in all, on SuperGLUE.") is None  # another clause


@pytest.mark.parametrize("term, text, found", [
    ("GEMM", "we implement highly efficient GPU GEMMs", True),  # a plural in the text
    ("GPUs", "on a single GPU", True),  # a plural in the term
    ("GEMM", "GEMMA models", False),
    ("HA", "it has", False),  # a short name is no plural
    ("175", "OPT-175B", True),
    ("3", "3.65 times", False),
    ("OWSM-CTC", "OWSM and CTC", True),
])
def test_a_term_occurs_as_a_whole_word_singular_or_plural(term, text, found):
    assert occurs(term, text) is found
