from rag.cite import resolve

from conftest import make_paper as paper


def test_markers_map_to_source_titles_and_bad_ones_are_dropped():
    sources = [paper(1), paper(2)]
    cited = resolve("A [2]. B [1, 2]. C [7]. D [Source 1][3] .", sources)
    assert [(c.n, c.title) for c in cited.citations] == [(2, "Title 2"), (1, "Title 1")]
    assert cited.dropped_markers == 2
    assert cited.text == "A [2]. B [1][2]. C. D [1]."


def test_a_citation_shows_the_passage_its_sentences_draw_on():
    from rag.retrieve import Passage, RetrievedPaper

    texts = ["We propose a decoder for speech.", "It is trained on 180k hours of public audio data."]
    paper_ = RetrievedPaper("id1", "Title 1", [Passage(f"c{i}", t, i, 0.5, 0.1) for i, t in enumerate(texts)])
    cited = resolve("It was trained on 180k hours of audio [1].", [paper_])
    assert cited.citations[0].snippet == texts[1]
    assert resolve("Nothing in common [1].", [paper_]).citations[0].snippet == texts[0]
