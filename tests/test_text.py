"""Text rules: what a "how many" question counts, and what each number of a text counts."""

import pytest

from rag.text import counted_nouns, counts


@pytest.mark.parametrize("question, nouns", [
    ("How many hours of audio trained it?", ["hours"]),
    ("how many GPU hours did it take to derive Minitron 8B?", ["hours"]),
    ("How many Indian and African languages did it test?", ["Indian", "languages"]),
    ("What ROUGE score does it get?", []),
])
def test_what_a_how_many_question_counts(question, nouns):
    assert counted_nouns(question) == nouns


def test_each_number_counts_the_words_after_it_past_scales_and_up_to_a_stopword():
    assert counts("It uses 10 million samples of data and four key aspects in total [1].") == [
        ("10", ["samples"]), ("million", ["samples"]), ("four", ["key", "aspects"])]
    assert counts("It reaches 3.65 times higher throughput.") == [("3.65", ["higher", "throughput"])]
