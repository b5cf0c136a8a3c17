"""Sentence-transformers embeddings, loaded from a local folder only (no hub access)."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from rag.errors import UserError  # noqa: E402
from rag.models import default_embedding_model  # noqa: E402


class Embedder:
    def __init__(self, model_path: Path | None = None):
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # the "Loading weights" bar is noise on every start

        path = Path(model_path) if model_path else default_embedding_model()
        if not path.is_dir():
            raise UserError(f"embedding model folder not found: {path}")
        self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self.name = path.name

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors, so cosine similarity is a dot product."""
        return self.model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True,
                                 show_progress_bar=False).astype(np.float32)
