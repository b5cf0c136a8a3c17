"""The ONNX embedder: sentence-transformers' own vectors, without torch on the question's path."""

import shutil
import subprocess
import sys

import numpy as np

from rag.embeddings import LocalEmbedder, onnx_file
from rag.weights import default_embedding_model

from conftest import PROJECT_ROOT


def test_onnx_vectors_are_sentence_transformers_vectors():
    from sentence_transformers import SentenceTransformer

    texts = ["Which papers prune Llama?", "FineQuant reaches up to 3.65 times higher throughput on the same "
             "number of GPUs.", "x " * 400]  # the last one is truncated like sentence-transformers does
    reference = SentenceTransformer(str(default_embedding_model()), device="cpu", local_files_only=True)
    expected = reference.encode(texts, normalize_embeddings=True)
    got = LocalEmbedder().embed(texts)
    assert got.dtype == np.float32 and np.allclose(np.linalg.norm(got, axis=1), 1, atol=1e-5)
    assert np.min(np.sum(expected * got, axis=1)) > 0.9999
    assert onnx_file(default_embedding_model()).is_file()


def test_searching_from_the_shell_never_imports_torch_or_langchain(real_data_dir, real_pipeline):
    """The cold start's guard: flags, the index, the embedder and retrieval, with no torch (~5 s of imports)
    and no langchain (~0.4 s: only a prompt or an ingest needs it)."""
    code = ("import sys; from rag import ask; ask.main(['--retrieval-only', 'which papers prune Llama?', "
            f"'--data-dir', {str(real_data_dir)!r}]); "
            "assert not [m for m in sys.modules if m.startswith(('torch', 'langchain'))], 'torch or langchain'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "LLM-Pruner" in result.stdout


def test_the_onnx_export_is_keyed_by_the_model_content_not_its_place(tmp_path):
    """A fresh clone (a new .venv) reuses the export; a changed model gets its own."""
    source = default_embedding_model()
    copy = tmp_path / source.name
    shutil.copytree(source, copy)
    assert onnx_file(copy) == onnx_file(source)
    weights = max(copy.rglob("*"), key=lambda p: p.stat().st_size)
    with weights.open("r+b") as f:
        f.seek(-8, 2)
        f.write(b"changed!")
    assert onnx_file(copy) != onnx_file(source)


def test_the_int8_embedder_ranks_like_the_float_one_under_its_own_name():
    """Quantized vectors differ a little (cosine ~0.95 to the float ones), so an index made with one refuses the other."""
    exact, int8 = LocalEmbedder(), LocalEmbedder(int8=True)
    assert int8.name == exact.name + "-int8"
    passages = ["FineQuant reaches up to 3.65 times higher throughput on the same number of GPUs.",
                "LLM-Pruner removes non-critical coupled structures of Llama by gradient information.",
                "OWSM-CTC is trained on 180k hours of public audio data for speech recognition and translation."]
    questions = ["Which method prunes Llama?", "How much audio trained the CTC speech model?",
                 "How much faster is fine-grained weight-only quantization?"]
    assert np.mean(np.sum(exact.embed(passages) * int8.embed(passages), axis=1)) > 0.9
    for embedder in (exact, int8):
        best = np.argmax(embedder.embed(questions) @ embedder.embed(passages).T, axis=1)
        assert best.tolist() == [1, 2, 0]
