"""All knobs in one object. Every field can be set as an environment variable RAG_<NAME>
(e.g. RAG_DATA_DIR=/tmp/idx) or, in the CLIs, as a flag."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAG_", extra="forbid")

    # Where things live
    data_dir: Path = Field(PROJECT_ROOT / "data", description="folder of the Chroma index and keyword index")
    corpus: list[Path] = Field([PROJECT_ROOT / "seeds"], description="files or folders ingested when the index is empty")
    chroma_url: str | None = Field(None, description="use a Chroma server (e.g. http://127.0.0.1:8000) instead of data_dir")
    collection: str = Field("papers", description="Chroma collection name")

    # Models (None = the offline defaults shipped as PyPI packages)
    embedding_backend: Literal["local", "openai"] = Field(
        "local", description="where passages and questions are embedded: local (onnxruntime, from embedding_model) "
        "or openai (any OpenAI-compatible /embeddings server at embedding_url)")
    embedding_model: Path | None = Field(None, description="local sentence-transformers folder (embedding_backend local)")
    embedding_int8: bool = Field(False, description="run the local embedder quantized to int8 (onnxruntime dynamic "
                                 "quantization, made once): faster ingest, slightly different vectors")
    embedding_url: str | None = Field(None, description="base URL of an OpenAI-compatible embedding server, e.g. "
                                      "http://127.0.0.1:8081/v1 (embedding_backend openai)")
    embedding_server_model: str | None = Field(None, description="model name sent to the embedding server; None: "
                                               "the first one its /models lists")
    embedding_api_key: SecretStr | None = Field(None, description="API key for the embedding server, if it wants one")
    paper_model: Path | None = Field(None, description="local sentence-transformers folder of the paper embedder, "
                                     "which reranks the retrieved papers by their whole abstracts (None: "
                                     "EmbeddingGemma-300M, set up by `make paper-model`)")
    paper_model_int8: bool = Field(True, description="run the paper embedder quantized to int8: half the ingest "
                                   "time and a third of the load time of float, the same paper ranking (eval/RESULTS.md)")
    paper_query_prompt: str = Field("task: search result | query: {question}",
                                    description="how the paper embedder is given a question")
    paper_document_prompt: str = Field("title: {title} | text: {abstract}",
                                       description="how the paper embedder is given a paper")
    llm_model: Path | None = Field(None, description="local GGUF file")
    n_ctx: int = Field(4096, gt=0, description="LLM context window in tokens")
    n_threads: int = Field(os.cpu_count() or 2, gt=0, description="CPU threads for the LLM")

    # Chunking
    chunk_chars: int = Field(400, gt=0, description="target chunk size in characters")
    chunk_overlap: int = Field(80, ge=0, description="characters shared by neighbouring chunks")

    # Retrieval
    k: int = Field(5, gt=0, description="papers retrieved and shown")
    candidates: int = Field(40, gt=0, description="chunks taken from each of BM25 and dense before fusion")
    rrf_k: int = Field(60, description="reciprocal rank fusion constant")
    paper_rank_weight: float = Field(0.0, ge=0, description="weight of the paper embedder's ranking of the "
                                     "retrieved papers by their whole abstracts, fused with the passages' ranking "
                                     "(0: off, and ingest makes no paper vectors; 2 was best on the dev split; needs "
                                     "`make paper-model`)")
    word_rerank: int = Field(3, ge=0, description="the first this many papers are reordered by how many of the "
                             "question's content words their whole abstract holds (0 or 1: off)")

    # Prompt and generation
    evidence_tokens: int = Field(350, gt=0, description="budget of evidence tokens in the prompt (~4 chars each)")
    evidence_rank_step: float = Field(0.05, ge=0, description="how much a sentence's score drops per rank of its paper "
                                      "when the evidence is chosen (0: the best sentences of any retrieved paper)")
    max_answer_tokens: int = Field(256, gt=0, description="longest answer generated")
    temperature: float = Field(0.0, ge=0, description="sampling temperature; 0 is deterministic")

    # Answering
    min_score: float = Field(0.3, description="best passage similarity below which the answer is the refusal, with "
                             "no LLM call (not within papers a conversation chose)")
    named_share: float = Field(0.25, ge=0, le=1, description="a 'which papers …?' question naming something "
                               "(Mistral, RoBERTa) that some papers but at most this share of them mention is judged "
                               "paper by paper even below min_score: a long, hedged question embeds far from every "
                               "passage (0: off)")
    list_candidates: int = Field(10, gt=0, description="papers judged one by one for a 'which papers ...?' question")
    list_threshold: float = Field(0.2, description="probability of 'yes' the best-ranked candidate needs to be listed")
    list_rank_step: float = Field(0.03, ge=0, description="added to list_threshold for each rank further down: the "
                                  "retrieval order is evidence too")

    narrow_share: float = Field(0.6, ge=0, le=1, description="narrowing papers the conversation showed ('which of "
                                "those …?'): a paper judged a match stays only with P(yes) at least this share of the "
                                "best one's (0: off)")
    identify_threshold: float = Field(0.2, description="P(yes) the best-ranked candidate needs to be named as the "
                                      "paper a 'which paper …?' question describes (raise it to name fewer papers)")

    refusal_confidence: float = Field(0.5, ge=0, le=1, description="probability the model's refusal needs at its "
                                      "first token to stand; below it, the model is asked for its best answer, "
                                      "which the checks verify as any other (0: every refusal stands)")
    quote_candidates: int = Field(2, ge=0, description="evidence sentences judged for a quoted answer when the "
                                  "model's own answer cannot be verified (0: refuse instead)")
    quote_threshold: float = Field(0.6, description="probability of 'yes' a sentence needs to be quoted as the answer")
    rare_share: float = Field(0.03, ge=0, le=1, description="a question's word in at most this share of the papers "
                              "describes one: an answer sentence that repeats it must cite a paper that has it, when "
                              "another source has it")

    # Ingestion
    batch_size: int = Field(256, gt=0, description="papers chunked, embedded and written per batch")

    backend: Literal["llamacpp", "transformers", "openai"] = Field(
        "llamacpp", description="LLM runtime: llamacpp (in-process GGUF), transformers (Hugging Face; llm_model is a "
        "folder or a GGUF), or openai (any OpenAI-compatible server at openai_url)")
    openai_url: str | None = Field(None, description="base URL of an OpenAI-compatible server, e.g. "
                                   "http://127.0.0.1:8080/v1 (backend openai)")
    openai_model: str | None = Field(None, description="model name sent to the server; None: the first one its "
                                     "/models lists")
    openai_api_key: SecretStr | None = Field(None, description="API key sent as a Bearer token, if the server wants one")
    request_timeout: float = Field(120.0, gt=0, description="seconds a server (Chroma, or the LLM's) may take to "
                                   "answer or to send the next piece of an answer")

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"
