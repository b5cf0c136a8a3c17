from rag.chunking import chunk_papers, make_splitter
from rag.corpus import load

from conftest import SEED_FILE


def test_chunks_carry_paper_id_exact_title_and_text_from_the_abstract():
    papers = load([SEED_FILE]).papers
    chunks = list(chunk_papers(papers, make_splitter(400, 80)))
    by_id = {p.id: p for p in papers}
    assert {c.paper_id for c in chunks} == set(by_id)
    for chunk in chunks:
        paper = by_id[chunk.paper_id]
        assert chunk.title == paper.title
        assert chunk.text in paper.abstract
        assert chunk.indexed_text.startswith(paper.title + "\n")
        assert chunk.metadata == {"paper_id": paper.id, "title": paper.title, "position": chunk.position,
                                  "source": SEED_FILE.name, "date": "2024-03-21", "day": 20240321}
        assert len(chunk.text) <= 400
    assert len({c.id for c in chunks}) == len(chunks)


def test_chunk_ids_are_content_hashes():
    papers = load([SEED_FILE]).papers[:3]
    splitter = make_splitter(400, 80)
    first = [c.id for c in chunk_papers(papers, splitter)]
    assert first == [c.id for c in chunk_papers(papers, splitter)]
    changed = [papers[0].__class__(**{**papers[0].__dict__, "abstract": papers[0].abstract + " New."})]
    assert [c.id for c in chunk_papers(changed, splitter)][-1] not in first
