"""An ingest killed with SIGKILL mid-way is finished by the next run: no duplicate, no missing chunk
(real embedder, real Chroma, a real `python -m rag.ingest` process)."""

import re
import signal
import subprocess
import sys
import time

from eval.bench_scale import synthetic_corpus
from rag.chunking import chunk_papers, make_splitter
from rag.corpus import load
from rag.index import Index
from rag.settings import Settings

from conftest import PROJECT_ROOT

PAPERS, BATCH = 160, 16


def test_killed_ingest_is_completed_by_the_next_run(tmp_path):
    corpus = tmp_path / "synthetic.jsonl"
    synthetic_corpus(corpus, PAPERS)
    settings = Settings(data_dir=tmp_path / "data")
    command = [sys.executable, "-m", "rag.ingest", str(corpus), "--data-dir", str(settings.data_dir),
               "--batch-size", str(BATCH)]
    log = tmp_path / "ingest.log"
    with log.open("w") as err:
        proc = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.monotonic() + 240
    while max(map(int, re.findall(r"(\d+)paper", log.read_text())), default=0) < 3 * BATCH:
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "the ingest made no progress"
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    splitter = make_splitter(settings.chunk_chars, settings.chunk_overlap)
    expected = {chunk.id for chunk in chunk_papers(load([corpus]).papers, splitter)}
    partial = Index(settings).count()
    assert 0 < partial < len(expected)

    done = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"({len(expected) - partial} passages added, 0 removed, {partial} unchanged)" in done.stdout
    index = Index(settings)
    stored = index.collection.get(include=[])["ids"]
    assert len(stored) == len(set(stored)) and set(stored) == expected
    assert index.keyword_search("language models", 5)
    assert sorted(index.keyword.ids) == sorted(expected)
