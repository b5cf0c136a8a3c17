"""The library: what is indexed, per paper and per source file; removing a source; the corpus's topics.

Everything is read from Chroma's metadata (the source of truth), so the CLI and the browser see the same."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.errors import UserError
from rag.index import Index, keyword_folder_name
from rag.settings import Settings

MIN_PAPERS_FOR_RARE_TERMS = 20


@dataclass(frozen=True)
class LibraryPaper:
    paper_id: str
    title: str
    source: str  # file name, "" when indexed before sources were recorded
    date: str
    passages: int


def papers(index: Index) -> list[LibraryPaper]:
    """Every indexed paper, by title."""
    found: dict[str, dict] = {}
    counts: Counter[str] = Counter()
    for page in index.pages(["metadatas"]):
        for meta in page["metadatas"]:
            found.setdefault(meta["paper_id"], meta)
            counts[meta["paper_id"]] += 1
    return sorted((LibraryPaper(pid, m["title"], m.get("source", ""), m.get("date", ""), counts[pid])
                   for pid, m in found.items()), key=lambda p: p.title.casefold())


def sources(library: list[LibraryPaper]) -> dict[str, int]:
    """Papers per source file, the largest first."""
    return dict(Counter(p.source for p in library).most_common())


def emptied_marker(settings: Settings) -> Path:
    """Exists once a user removed the last source of this collection (until papers are added again): the next
    start must not ingest the configured corpus again."""
    return settings.data_dir / f"library-emptied-{keyword_folder_name(settings)}"


def remove_source(index: Index, source: str) -> int:
    """Remove every passage of the papers read from `source` (a file name); returns how many papers it removed.
    The keyword index is rebuilt, so both searches forget them at once."""
    known = sources(papers(index))
    if source not in known:
        names = ", ".join(sorted(s for s in known if s)) or "none"
        raise UserError(f"no indexed papers come from {source!r} (sources: {names})")
    passages = index.papers_where({"source": source})
    index.delete(sorted(passages))
    index.delete_paper_vectors(sorted(set(passages.values())))
    index.rebuild_keyword_index()
    if not index.count():
        emptied_marker(index.settings).touch()
    return known[source]


@dataclass(frozen=True)
class Topic:
    label: str  # its most distinctive terms
    papers: list[str]  # titles


@dataclass(frozen=True)
class TopicMap:
    topics: list[Topic]  # the largest first
    points: list[tuple[float, float, int, str]]  # (x, y, topic number, title) per paper, for the 2-D map


def topic_map(index: Index, max_topics: int = 8, terms: int = 3, seed: int = 0) -> TopicMap:
    """Clusters of the papers' mean passage embeddings (k-means), each labelled by its most distinctive
    terms (class-based TF-IDF over the cluster's titles and abstracts), placed on a 2-D PCA map."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.feature_extraction.text import CountVectorizer

    vectors: dict[str, list[np.ndarray]] = {}
    texts: dict[str, list[str]] = {}
    titles: dict[str, str] = {}
    for page in index.pages(["metadatas", "documents", "embeddings"]):
        for meta, doc, emb in zip(page["metadatas"], page["documents"], page["embeddings"]):
            vectors.setdefault(meta["paper_id"], []).append(np.asarray(emb))
            texts.setdefault(meta["paper_id"], [meta["title"]]).append(doc)
            titles[meta["paper_id"]] = meta["title"]
    ids = sorted(vectors)
    if len(ids) < 3:
        return TopicMap([], [])
    matrix = np.stack([np.mean(vectors[pid], axis=0) for pid in ids])
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    count = max(2, min(max_topics, round(np.sqrt(len(ids) / 2))))
    labels = KMeans(n_clusters=count, n_init=10, random_state=seed).fit_predict(matrix)
    # c-TF-IDF: a cluster's term frequencies, weighted by how rare the term is across clusters. Terms in more
    # than a quarter of the papers ("models", "llms" here) name no topic and are left out.
    large = len(ids) >= MIN_PAPERS_FOR_RARE_TERMS  # a handful of papers has no "common" terms to leave out
    vectorizer = CountVectorizer(stop_words="english", ngram_range=(1, 2), min_df=2 if large else 1,
                                 max_df=0.25 if large else 1.0, token_pattern=r"(?u)\b[a-zA-Z][\w-]+\b")
    try:
        vectorizer.fit([" ".join(texts[pid]) for pid in ids])
    except ValueError:  # no term left after the pruning (e.g. papers of a few stop words)
        vectorizer.set_params(min_df=1, max_df=1.0).fit([" ".join(texts[pid]) for pid in ids])
    documents = [" ".join(" ".join(texts[pid]) for pid, label in zip(ids, labels) if label == c) for c in range(count)]
    counts = vectorizer.transform(documents).toarray().astype(float)
    weights = (counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
               * np.log(1 + counts.sum() / count / (counts.sum(axis=0) + 1)))
    vocabulary = vectorizer.get_feature_names_out()
    order = sorted(range(count), key=lambda c: -(labels == c).sum())
    topics = [Topic(", ".join(distinct_terms([vocabulary[i] for i in np.argsort(-weights[c])[:5 * terms]], terms)),
                    sorted(titles[pid] for pid, label in zip(ids, labels) if label == c)) for c in order]
    xy = PCA(n_components=2, random_state=seed).fit_transform(matrix)
    rank = {c: n for n, c in enumerate(order)}
    points = [(float(x), float(y), rank[label], titles[pid]) for (x, y), label, pid in zip(xy, labels, ids)]
    return TopicMap(topics, points)


def distinct_terms(ranked: list[str], count: int) -> list[str]:
    """The first `count` terms that do not repeat a word of a term kept before ("speech", "speech model")."""
    kept: list[str] = []
    for term in ranked:
        if not any(set(term.split()) & set(other.split()) for other in kept):
            kept.append(term)
    return kept[:count]
