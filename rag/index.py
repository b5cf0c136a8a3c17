"""The index: passages in ChromaDB (dense vectors, cosine) plus a persisted BM25 keyword index.

Chroma is the source of truth; the keyword index is derived from it and rebuilt whenever an
ingest changed the collection (or was interrupted before finishing).
"""

from __future__ import annotations

import functools
import json
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator
from urllib.parse import urlparse

import numpy as np

from rag.chunking import Chunk, indexed_text
from rag.errors import UserError, first_line
from rag.settings import Settings
from rag.text import word_terms

_PAGE = 5000  # rows read from Chroma per call
_SUBSET_VECTORS = 200_000  # vectors kept for filters between questions (~300 MB at most)


@dataclass(frozen=True)
class Subset:
    """The passages that pass a filter, kept between questions: a filtered search then costs what an unfiltered
    one does (at 10,000 papers Chroma's metadata query and filtered search took 3-30x the search itself)."""
    ids: list[str]
    vectors: np.ndarray | None  # their unit vectors, a row per id; None when too many to keep


@dataclass(frozen=True)
class StoredChunk:
    id: str
    paper_id: str
    title: str
    text: str
    position: int
    embedding: np.ndarray


HEARTBEAT_TIMEOUT_S = 5.0  # a server that is down or silent is reported within seconds


def open_client(settings: Settings):
    import chromadb

    chroma_settings = chromadb.Settings(anonymized_telemetry=False)
    if settings.chroma_url:
        return _server_client(settings, chroma_settings)
    try:
        settings.chroma_dir.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)
    except OSError as e:
        raise UserError(f"data folder {settings.data_dir} is not usable: {e.strerror}") from None
    except Exception as e:  # e.g. a corrupted or incompatible chroma.sqlite3
        raise UserError(f"cannot open the index in {settings.chroma_dir} ({first_line(e)}); move that folder "
                        "away and ingest again to rebuild it") from None


def server_address(chroma_url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a Chroma server URL."""
    url = urlparse(chroma_url)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise UserError(f"invalid Chroma URL {chroma_url!r}: use http://HOST:PORT")
    return url.scheme, url.hostname, url.port or (443 if url.scheme == "https" else 8000)


def _server_client(settings: Settings, chroma_settings):
    """A Chroma server: checked with a bounded heartbeat first, and every later call bounded too
    (chromadb's own HTTP client waits forever)."""
    import chromadb
    import httpx

    scheme, host, port = server_address(settings.chroma_url)
    try:
        httpx.get(f"{scheme}://{host}:{port}/api/v2/heartbeat", timeout=HEARTBEAT_TIMEOUT_S).raise_for_status()
        client = chromadb.HttpClient(host=host, port=port, ssl=scheme == "https", settings=chroma_settings)
    except Exception as e:
        raise UserError(f"cannot reach the Chroma server at {settings.chroma_url}: {first_line(e)}") from None
    client._server._session.timeout = httpx.Timeout(settings.request_timeout, connect=HEARTBEAT_TIMEOUT_S)
    return client


class _ServerCollection:
    """A collection on a Chroma server: a lost connection or a timeout becomes one clear error."""

    def __init__(self, collection, url: str):
        self.collection, self.url = collection, url

    def __getattr__(self, name: str):
        method = getattr(self.collection, name)
        if not callable(method):  # e.g. .metadata
            return method

        def call(*args, **kwargs):
            try:
                return method(*args, **kwargs)
            except Exception as e:  # connection lost, timed out, or an error answer (chromadb raises plain ones)
                raise UserError(f"the Chroma server at {self.url} failed: {first_line(e)}") from None
        return call


_BLAS_LOCK = threading.Lock()


@functools.cache
def _blas():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


class KeywordIndex:
    """BM25 over passage texts (English stop words removed, Snowball-stemmed), saved to disk, with the number of
    papers each word occurs in (how rare a word of a question is)."""

    def __init__(self, folder: Path):
        self.folder = folder
        # (bm25, passage ids, id -> row, papers per word id, papers): replaced as one value, so a search never pairs
        # a new model with old ids
        self.state: tuple = (None, [], {}, np.zeros(0, dtype=np.int32), 0)

    @property
    def ids(self) -> list[str]:
        return self.state[1]

    @staticmethod
    def tokenize(texts: list[str]) -> list[list[str]]:
        import bm25s
        import Stemmer

        return bm25s.tokenize(texts, stopwords="en", stemmer=Stemmer.Stemmer("english"),
                              return_ids=False, show_progress=False)

    def build(self, pages: Iterable[tuple[list[str], list[str], list[str]]]) -> None:
        """Index pages of (passage ids, texts, paper ids). Each page's tokens become ids of one vocabulary as it is
        read: a token string per word of 217,000 synthetic passages held 0.2 GB more at the peak."""
        import bm25s

        ids, vocabulary, documents, papers = [], {}, [], set()
        # Per word id: the papers it occurs in, and the last of them. A paper's passages are stored one after
        # another, except an edited abstract's new ones: that paper's words may count twice, so they look less rare
        # (never more). Exact counting held 0.3 GB more over 217,000 passages.
        counts, last_paper = [], []
        for page_ids, texts, paper_ids in pages:
            ids += page_ids
            papers.update(paper_ids)
            for tokens, paper in zip(self.tokenize(texts), paper_ids):
                documents.append([vocabulary.setdefault(token, len(vocabulary)) for token in tokens])
                counts += [0] * (len(vocabulary) - len(counts))
                last_paper += [None] * (len(vocabulary) - len(last_paper))
                for word in set(documents[-1]):
                    if last_paper[word] != paper:
                        counts[word], last_paper[word] = counts[word] + 1, paper
        del last_paper
        paper_counts = np.array(counts, dtype=np.int32)
        bm25 = None
        if ids:  # an empty library (its last source removed) has no keyword index to build
            bm25 = bm25s.BM25()
            bm25.index((documents, vocabulary), show_progress=False)  # adds the empty token, with no paper count
        del documents
        tmp = self.folder.with_name(self.folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if bm25:
            bm25.save(str(tmp), show_progress=False)
        np.save(tmp / "paper_counts.npy", paper_counts)
        (tmp / "ids.json").write_text(json.dumps({"passages": ids, "papers": len(papers)}))
        shutil.rmtree(self.folder, ignore_errors=True)
        tmp.rename(self.folder)
        self.state = (bm25, ids, {cid: i for i, cid in enumerate(ids)}, paper_counts, len(papers))

    def load(self) -> bool:
        import bm25s

        if not (self.folder / "ids.json").is_file():
            return False
        try:
            saved = json.loads((self.folder / "ids.json").read_text())
            ids, papers = saved["passages"], saved["papers"]
            bm25 = bm25s.BM25.load(str(self.folder), show_progress=False) if ids else None
            paper_counts = np.load(self.folder / "paper_counts.npy")
            self.state = (bm25, ids, {cid: i for i, cid in enumerate(ids)}, paper_counts, papers)
        except (OSError, ValueError, KeyError, TypeError):  # damaged or older: it is derived data, so it is rebuilt
            return False
        return True

    def papers_with(self, words: set[str]) -> tuple[dict[str, int], int]:
        """How many papers each of `words` (stemmed like the index's tokens) occurs in, and how many papers there are."""
        bm25, _, _, paper_counts, papers = self.state
        vocabulary = bm25.vocab_dict if bm25 else {}
        return {w: int(paper_counts[vocabulary[w]]) for w in words
                if vocabulary.get(w, len(paper_counts)) < len(paper_counts)}, papers

    def search(self, query: str, n: int, within: list[str] | None = None) -> list[str]:
        """The `n` best passage ids for `query`; only ids in `within` when it is given."""
        bm25, ids, positions, _, _ = self.state  # one snapshot: a rebuild may replace it meanwhile
        if not ids:
            return []
        tokens = [t for t in self.tokenize([query])[0] if t in bm25.vocab_dict]
        if not tokens:
            return []
        if within is None:
            docs, scores = bm25.retrieve([tokens], k=min(n, len(ids)), show_progress=False)
            return [ids[d] for d, s in zip(docs[0], scores[0]) if s > 0]
        scores = bm25.get_scores(tokens)
        allowed = np.fromiter((positions[cid] for cid in within if cid in positions), dtype=np.int64)
        best = allowed[np.argsort(-scores[allowed], kind="stable")[:n]]
        return [ids[i] for i in best if scores[i] > 0]


def keyword_folder_name(settings: Settings) -> str:
    """One keyword index per collection, and per server for a remote Chroma."""
    if settings.chroma_url:
        _, host, port = server_address(settings.chroma_url)
        return f"{settings.collection}@{host}_{port}"
    return settings.collection


class Index:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.client = open_client(settings)
        try:
            self.collection = self.client.get_or_create_collection(
                settings.collection, embedding_function=None, metadata={"hnsw:space": "cosine"})
            # One vector per paper, made from its whole abstract by the paper embedder (id: the paper's id).
            self.paper_collection = self.client.get_or_create_collection(
                f"{settings.collection}-papers", embedding_function=None, metadata={"hnsw:space": "cosine"})
        except Exception as e:
            raise UserError(f"cannot open the index at {self.location}: {first_line(e)}") from None
        if settings.chroma_url:
            self.collection = _ServerCollection(self.collection, settings.chroma_url)
            self.paper_collection = _ServerCollection(self.paper_collection, settings.chroma_url)
        self.keyword = KeywordIndex(settings.data_dir / "bm25" / keyword_folder_name(settings))
        self._keyword_ready = False
        self._keyword_lock = threading.Lock()  # an ingest in the background and a question may both rebuild it
        # Subsets by filter, dropped at every write. Like the keyword index, they do not see another process's
        # writes until a restart.
        self._subsets: dict[str, Subset] = {}
        self._subsets_lock = threading.Lock()
        self._writes = 0  # counted before and after each write: a subset read across one is not kept

    @property
    def location(self) -> str:
        return self.settings.chroma_url or str(self.settings.chroma_dir)

    def count(self) -> int:
        return self.collection.count()

    def use_embedder(self, name: str, papers: bool = False) -> None:
        """Record which embedder makes the index's vectors (the passages', or with `papers` the papers'), or refuse
        another one: its vectors would live in another space, and every search would be silently wrong."""
        collection = self.paper_collection if papers else self.collection
        metadata = dict(collection.metadata or {})
        recorded = metadata.get("embedder")
        if recorded == name:
            return
        if recorded is not None:
            raise UserError(f"the index at {self.location} was made with the embedder {recorded}, not {name}: "
                            "set that embedder again, or use another data_dir or collection for this one")
        # A new index, or one made before indexes recorded it (the local default was the only embedder then).
        # The hnsw settings are fixed at creation and Chroma refuses to be told them again.
        kept = {key: value for key, value in metadata.items() if not key.startswith("hnsw:")}
        collection.modify(metadata={**kept, "embedder": name})

    def subset(self, where: dict) -> Subset:
        """The passages that match a Chroma `where` (their vectors too, while all kept subsets fit the budget)."""
        key = json.dumps(where, sort_keys=True)
        with self._subsets_lock:
            if (kept := self._subsets.get(key)) is not None:
                return kept
            writes = self._writes
        ids = self.collection.get(where=where, include=[])["ids"]
        vectors = None
        if ids and len(ids) <= _SUBSET_VECTORS:
            found = self.collection.get(where=where, include=["embeddings"])
            ids, vectors = found["ids"], np.asarray(found["embeddings"], dtype=np.float32)
        subset = Subset(ids, vectors)
        with self._subsets_lock:
            if writes == self._writes:
                held = sum(len(s.ids) for s in self._subsets.values() if s.vectors is not None)
                if vectors is not None and held + len(vectors) > _SUBSET_VECTORS:
                    self._subsets = {}
                self._subsets[key] = subset
        return subset

    def _written(self) -> None:
        with self._subsets_lock:
            self._writes += 1
            self._subsets = {}

    def papers_where(self, where: dict) -> dict[str, str]:
        """The passages that match a Chroma `where`, as Chroma holds them now: passage id -> paper id."""
        found = self.collection.get(where=where, include=["metadatas"])
        return {cid: meta["paper_id"] for cid, meta in zip(found["ids"], found["metadatas"])}

    def ids_by_paper(self, paper_ids: list[str]) -> dict[str, set[str]]:
        """The passage ids of each of `paper_ids` that is indexed."""
        if not paper_ids:
            return {}
        found = self.collection.get(where={"paper_id": {"$in": paper_ids}}, include=["metadatas"])
        by_paper: dict[str, set[str]] = {}
        for cid, meta in zip(found["ids"], found["metadatas"]):
            by_paper.setdefault(meta["paper_id"], set()).add(cid)
        return by_paper

    def update_metadata(self, chunks: list[Chunk]) -> None:
        """Passages already indexed keep their vectors and take the metadata of the file read now."""
        step = self.client.get_max_batch_size()
        for start in range(0, len(chunks), step):
            part = chunks[start:start + step]
            self.collection.update(ids=[c.id for c in part], metadatas=[c.metadata for c in part])
        self._written()

    def add(self, chunks: list[Chunk], embeddings: np.ndarray) -> None:
        self.invalidate_keyword_index()
        step = self.client.get_max_batch_size()  # Chroma's limit per call
        for start in range(0, len(chunks), step):
            part = chunks[start:start + step]
            self.collection.upsert(ids=[c.id for c in part], embeddings=embeddings[start:start + step],
                                   documents=[c.text for c in part], metadatas=[c.metadata for c in part])
        self._written()

    def delete(self, ids: list[str]) -> None:
        if ids:
            self.invalidate_keyword_index()
            self.collection.delete(ids=ids)
            self._written()

    def paper_versions(self, paper_ids: list[str]) -> dict[str, str]:
        """The version (digest of title and abstract) each of `paper_ids` had when its paper vector was made."""
        if not paper_ids:
            return {}
        found = self.paper_collection.get(ids=paper_ids, include=["metadatas"])
        return {pid: meta["version"] for pid, meta in zip(found["ids"], found["metadatas"])}

    def add_paper_vectors(self, paper_ids: list[str], versions: list[str], vectors: np.ndarray) -> None:
        self.paper_collection.upsert(ids=paper_ids, embeddings=vectors,
                                     metadatas=[{"version": version} for version in versions])

    def paper_vectors(self, paper_ids: list[str]) -> dict[str, np.ndarray]:
        if not paper_ids:
            return {}
        found = self.paper_collection.get(ids=paper_ids, include=["embeddings"])
        return {pid: np.asarray(vector, dtype=np.float32) for pid, vector in zip(found["ids"], found["embeddings"])}

    def delete_paper_vectors(self, paper_ids: list[str]) -> None:
        if paper_ids:
            self.paper_collection.delete(ids=paper_ids)

    def invalidate_keyword_index(self) -> None:
        """Before Chroma changes: an interrupted ingest leaves no stale keyword index on disk."""
        self._written()
        with self._keyword_lock:
            shutil.rmtree(self.keyword.folder, ignore_errors=True)
            self._keyword_ready = False

    def rebuild_keyword_index(self) -> None:
        with self._keyword_lock:
            self._rebuild_keyword_index()

    def keyword_index_saved(self) -> bool:
        """Whether a keyword index is on disk (and now loaded)."""
        with self._keyword_lock:
            return self.keyword.load()

    def pages(self, include: list[str]) -> Iterator[dict]:
        """Every passage, a Chroma `get` result of up to _PAGE rows at a time: memory stays flat."""
        for offset in range(0, self.count(), _PAGE):
            yield self.collection.get(include=include, limit=_PAGE, offset=offset)

    def _rebuild_keyword_index(self) -> None:
        self.keyword.folder.parent.mkdir(parents=True, exist_ok=True)
        pages = self.pages(["documents", "metadatas"])
        self.keyword.build((page["ids"], [indexed_text(m["title"], text) for text, m in
                                          zip(page["documents"], page["metadatas"])],
                            [m["paper_id"] for m in page["metadatas"]]) for page in pages)
        self._keyword_ready = True

    def abstracts(self, paper_ids: list[str]) -> dict[str, str]:
        """Each paper's title and whole abstract (its passages in order): what the answer's facts are checked
        against, beyond the excerpts the model read."""
        if not paper_ids:
            return {}
        found = self.collection.get(where={"paper_id": {"$in": paper_ids}}, include=["documents", "metadatas"])
        passages: dict[str, list[tuple[int, str]]] = {}
        titles: dict[str, str] = {}
        for doc, meta in zip(found["documents"], found["metadatas"]):
            passages.setdefault(meta["paper_id"], []).append((int(meta.get("position", 0)), doc))
            titles[meta["paper_id"]] = meta["title"]
        return {pid: "\n".join([titles[pid], *(doc for _, doc in sorted(parts))]) for pid, parts in passages.items()}

    def titles(self) -> set[str]:
        found: set[str] = set()
        for page in self.pages(["metadatas"]):
            found |= {m["title"] for m in page["metadatas"]}
        return found

    def keyword_search(self, query: str, n: int, where: dict | None = None) -> list[str]:
        """Passage ids by BM25; only passages that match the Chroma `where` when given."""
        self._ensure_keyword_index()
        return self.keyword.search(query, n, None if where is None else self.subset(where).ids)

    def _ensure_keyword_index(self) -> None:
        with self._keyword_lock:
            if not self._keyword_ready:
                if not self.keyword.load() or len(self.keyword.ids) != self.count():
                    self._rebuild_keyword_index()
                self._keyword_ready = True

    def rare_words(self, words: set[str]) -> set[str]:
        """Of `words` (stemmed), those that occur in some paper but in at most `rare_share` of the papers (in a small
        library: in one paper; `rare_share` 0: none)."""
        self._ensure_keyword_index()
        counts, papers = self.keyword.papers_with(words)
        limit = max(1, int(self.settings.rare_share * papers)) if self.settings.rare_share else 0
        return {word for word, count in counts.items() if 0 < count <= limit}

    def named_by_few(self, names: list[str], share: float, most: int | None = None) -> list[str]:
        """Of `names` (as written: "Mistral", "RoBERTa"), those some paper mentions and at most `share` of the papers
        do (and at most `most` papers, when given): a specific thing the corpus knows, unlike "LLMs"."""
        self._ensure_keyword_index()
        terms = {name: word_terms(name) for name in names}
        counts, papers = self.keyword.papers_with(set().union(*terms.values()))
        found = {name: [counts[t] for t in words if counts.get(t)] for name, words in terms.items()}
        limit = max(1.0, share * papers) if share else 0  # in a small library: in one paper
        limit = min(limit, most) if most is not None else limit
        return [name for name, seen in found.items() if seen and max(seen) <= limit]

    def dense_search(self, query_embedding: np.ndarray, n: int, where: dict | None = None) -> list[str]:
        """Passage ids by cosine similarity; only passages that match the Chroma `where` when given."""
        if where is not None:
            subset = self.subset(where)
            if not subset.ids:
                return []
            if subset.vectors is not None:
                # One BLAS thread: OpenBLAS's idle threads spin, and the next embedding and Chroma call ran 2x
                # slower. The limit is process-wide, hence the lock: overlapping limits would restore it wrongly.
                with _BLAS_LOCK, _blas().limit(limits=1, user_api="blas"):
                    scores = subset.vectors @ query_embedding.astype(np.float32)
                best = np.argpartition(-scores, n - 1)[:n] if n < len(scores) else np.arange(len(scores))
                return [subset.ids[i] for i in best[np.argsort(-scores[best])]]
        # No filter, or a subset too large to keep: Chroma searches (and returns fewer than n if it holds fewer).
        return self.collection.query(query_embeddings=query_embedding[None, :], n_results=n, where=where,
                                     include=[])["ids"][0]

    def get(self, ids: list[str]) -> dict[str, StoredChunk]:
        if not ids:
            return {}
        found = self.collection.get(ids=ids, include=["documents", "metadatas", "embeddings"])
        return {
            cid: StoredChunk(cid, m["paper_id"], m["title"], doc, int(m.get("position", 0)), np.asarray(emb))
            for cid, doc, m, emb in zip(found["ids"], found["documents"], found["metadatas"], found["embeddings"])
        }
