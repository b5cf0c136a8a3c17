"""The index: passages in ChromaDB (dense vectors, cosine) plus a persisted BM25 keyword index.

Chroma is the source of truth; the keyword index is derived from it and rebuilt whenever an
ingest changed the collection (or was interrupted before finishing).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from rag.chunking import Chunk
from rag.errors import UserError, first_line
from rag.settings import Settings

_PAGE = 5000  # rows read from Chroma per call


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

        def call(*args, **kwargs):
            try:
                return method(*args, **kwargs)
            except Exception as e:  # connection lost, timed out, or an error answer (chromadb raises plain ones)
                raise UserError(f"the Chroma server at {self.url} failed: {first_line(e)}") from None
        return call


class KeywordIndex:
    """BM25 over passage texts (English stop words removed, Snowball-stemmed), saved to disk."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.bm25 = None
        self.ids: list[str] = []
        self.positions: dict[str, int] = {}

    @staticmethod
    def tokenize(texts: list[str]) -> list[list[str]]:
        import bm25s
        import Stemmer

        return bm25s.tokenize(texts, stopwords="en", stemmer=Stemmer.Stemmer("english"),
                              return_ids=False, show_progress=False)

    def build(self, ids: list[str], texts: list[str]) -> None:
        import bm25s

        self.bm25 = bm25s.BM25()
        self.bm25.index(self.tokenize(texts), show_progress=False)
        self.ids = ids
        self.positions = {cid: i for i, cid in enumerate(ids)}
        tmp = self.folder.with_name(self.folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        self.bm25.save(str(tmp), show_progress=False)
        (tmp / "ids.json").write_text(json.dumps(ids))
        shutil.rmtree(self.folder, ignore_errors=True)
        tmp.rename(self.folder)

    def load(self) -> bool:
        import bm25s

        if not (self.folder / "ids.json").is_file():
            return False
        try:
            self.bm25 = bm25s.BM25.load(str(self.folder), show_progress=False)
            self.ids = json.loads((self.folder / "ids.json").read_text())
            self.positions = {cid: i for i, cid in enumerate(self.ids)}
        except (OSError, ValueError, KeyError):  # damaged: it is derived data, so it is rebuilt
            return False
        return True

    def search(self, query: str, n: int, within: set[str] | None = None) -> list[str]:
        """The `n` best passage ids for `query`; only ids in `within` when it is given."""
        if not self.ids:
            return []
        vocab = self.bm25.vocab_dict
        tokens = [t for t in self.tokenize([query])[0] if t in vocab]
        if not tokens:
            return []
        if within is None:
            docs, scores = self.bm25.retrieve([tokens], k=min(n, len(self.ids)), show_progress=False)
            return [self.ids[d] for d, s in zip(docs[0], scores[0]) if s > 0]
        scores = self.bm25.get_scores(tokens)
        allowed = [self.positions[cid] for cid in within if cid in self.positions]
        best = sorted(allowed, key=lambda i: scores[i], reverse=True)[:n]
        return [self.ids[i] for i in best if scores[i] > 0]


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
        except Exception as e:
            where = settings.chroma_url or settings.chroma_dir
            raise UserError(f"cannot open the index at {where}: {first_line(e)}") from None
        if settings.chroma_url:
            self.collection = _ServerCollection(self.collection, settings.chroma_url)
        self.keyword = KeywordIndex(settings.data_dir / "bm25" / keyword_folder_name(settings))
        self._keyword_ready = False

    def count(self) -> int:
        return self.collection.count()

    def ids_of_papers(self, paper_ids: list[str]) -> set[str]:
        if not paper_ids:
            return set()
        found = self.collection.get(where={"paper_id": {"$in": paper_ids}}, include=[])
        return set(found["ids"])

    def add(self, chunks: list[Chunk], embeddings: np.ndarray) -> None:
        self.invalidate_keyword_index()
        step = self.client.get_max_batch_size()  # Chroma's limit per call
        for start in range(0, len(chunks), step):
            part = chunks[start:start + step]
            self.collection.upsert(ids=[c.id for c in part], embeddings=embeddings[start:start + step],
                                   documents=[c.text for c in part], metadatas=[c.metadata for c in part])

    def delete(self, ids: list[str]) -> None:
        if ids:
            self.invalidate_keyword_index()
            self.collection.delete(ids=ids)

    def invalidate_keyword_index(self) -> None:
        shutil.rmtree(self.keyword.folder, ignore_errors=True)
        self._keyword_ready = False

    def rebuild_keyword_index(self) -> None:
        ids, texts = [], []
        for offset in range(0, self.count(), _PAGE):
            page = self.collection.get(include=["documents", "metadatas"], limit=_PAGE, offset=offset)
            ids += page["ids"]
            texts += [f"{m['title']}\n{d}" for d, m in zip(page["documents"], page["metadatas"])]
        self.keyword.folder.parent.mkdir(parents=True, exist_ok=True)
        self.keyword.build(ids, texts)
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
        for offset in range(0, self.count(), _PAGE):
            found |= {m["title"] for m in self.collection.get(include=["metadatas"], limit=_PAGE, offset=offset)["metadatas"]}
        return found

    def keyword_search(self, query: str, n: int, papers: list[str] | None = None) -> list[str]:
        """Passage ids by BM25; only passages of `papers` (paper ids) when given."""
        if not self._keyword_ready:
            if not self.keyword.load() or len(self.keyword.ids) != self.count():
                self.rebuild_keyword_index()
            self._keyword_ready = True
        return self.keyword.search(query, n, None if papers is None else self.ids_of_papers(papers))

    def dense_search(self, query_embedding: np.ndarray, n: int, papers: list[str] | None = None) -> list[str]:
        """Passage ids by cosine similarity; only passages of `papers` (paper ids) when given."""
        n = min(n, self.count())
        if n == 0 or papers == []:
            return []
        where = None if papers is None else {"paper_id": {"$in": papers}}
        found = self.collection.query(query_embeddings=query_embedding[None, :], n_results=n, where=where, include=[])
        return found["ids"][0]

    def get(self, ids: list[str]) -> dict[str, StoredChunk]:
        if not ids:
            return {}
        found = self.collection.get(ids=ids, include=["documents", "metadatas", "embeddings"])
        return {
            cid: StoredChunk(cid, m["paper_id"], m["title"], doc, int(m.get("position", 0)), np.asarray(emb))
            for cid, doc, m, emb in zip(found["ids"], found["documents"], found["metadatas"], found["embeddings"])
        }
