"""Choosing the evidence sentences that may be quoted as the answer."""

from rag.quote import closest_sentences
from rag.retrieve import Passage, RetrievedPaper
from rag.text import states_quantity

from conftest import source


def test_a_question_for_a_quantity_is_quoted_only_from_sentences_that_state_one():
    sources = [source("Survey of Multimodal Alignment", "The survey reviews alignment algorithms for multimodal models "
                      "in depth."),
               source("Alignment Datasets", "We identify four key aspects of constructing alignment datasets.")]
    asked = "How many aspects of alignment datasets does the survey review?"
    assert closest_sentences(asked, sources, 2) == [(2, sources[1].passages[0].text)]
    assert len(closest_sentences("Which alignment methods does the survey review?", sources, 2)) == 2


def test_a_how_many_question_is_quoted_only_from_a_sentence_that_counts_what_it_asks():
    sources = [source("Alignment Datasets", "We identify four key aspects of constructing alignment datasets."),
               source("GPT-3 Survey", "We refer to GPT-3 and its successors as GLLMs.")]
    assert closest_sentences("How many alignment algorithms does the survey review?", sources, 2) == []
    assert closest_sentences("How many research papers does the GPT-3 survey cover?", sources, 2) == []


def test_quantities_are_digits_or_number_words():
    assert states_quantity("a 7-fold reduction") and states_quantity("four key aspects")
    assert states_quantity("twice as fast") and not states_quantity("one of the first models to do so")


def test_a_question_for_named_models_is_quoted_only_from_a_sentence_that_names_one():
    wavllm = RetrievedPaper("w", "WavLLM", [Passage("w0", "WavLLM is a speech model with dual encoders.", 0, 0.9, 0.1),
                                            Passage("w1", "It uses a Whisper encoder and a WavLM encoder.", 1, 0.5, 0.1)])
    assert closest_sentences("Which two encoders does WavLLM use?", [wavllm]) == [
        (1, "It uses a Whisper encoder and a WavLM encoder.")]
    assert len(closest_sentences("What does WavLLM use?", [wavllm])) == 2


def test_a_question_about_a_license_is_quoted_only_from_a_sentence_that_names_one():
    sources = [source("LI-DiT", "The powerful LI-DiT-10B will be available after further optimization and security "
                      "checks."), source("NV-Embed", "The model is released under a CC-BY-NC-4.0 license.")]
    assert closest_sentences("what license will LI-DiT-10B be released under?", sources, 2) == [
        (2, sources[1].passages[0].text)]
