"""Choosing the evidence sentences that may be quoted as the answer."""

from rag.quote import closest_sentences
from rag.text import states_quantity

from conftest import source


def test_a_question_for_a_quantity_is_quoted_only_from_sentences_that_state_one():
    sources = [source("Survey of Multimodal Alignment", "The survey reviews alignment algorithms for multimodal models "
                      "in depth."),
               source("Alignment Datasets", "We identify four key aspects of constructing alignment datasets.")]
    asked = "How many alignment algorithms does the survey review?"
    assert closest_sentences(asked, sources, 2) == [(2, sources[1].passages[0].text)]
    assert len(closest_sentences("Which alignment algorithms does the survey review?", sources, 2)) == 2


def test_quantities_are_digits_or_number_words():
    assert states_quantity("a 7-fold reduction") and states_quantity("four key aspects")
    assert states_quantity("twice as fast") and not states_quantity("one of the first models to do so")
