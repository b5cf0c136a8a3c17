from rag.cite import resolve

from conftest import make_paper as paper


def test_markers_map_to_source_titles_and_bad_ones_are_dropped():
    sources = [paper(1), paper(2)]
    cited = resolve("A [2]. B [1, 2]. C [7]. D [Source 1][3] .", sources)
    assert [(c.n, c.title) for c in cited.citations] == [(2, "Title 2"), (1, "Title 1")]
    assert cited.dropped_markers == 2
    assert cited.text == "A [2]. B [1][2]. C. D [1]."
