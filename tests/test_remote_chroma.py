"""Against a real Chroma server on loopback (`chroma run`, started and stopped here): ingest and ask work
the same as with the local folder, and a missing or silent server is one clear line, with no hang."""

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from rag.errors import UserError
from rag.index import Index
from rag.settings import Settings

from conftest import SEEDS, free_port, one_error_line, run_module, stop_process

CHROMA = Path(sys.executable).parent / "chroma"
FINEQUANT = "FineQuant: Unlocking Efficiency with Fine-Grained Weight-Only Quantization for LLMs"


def start_server(path: Path, port: int) -> subprocess.Popen:
    log = path.with_suffix(".log")
    with log.open("w") as out:
        proc = subprocess.Popen([str(CHROMA), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2):
                return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"the Chroma server did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.2)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = free_port()
    proc = start_server(tmp_path_factory.mktemp("chroma-server"), port)
    yield f"http://127.0.0.1:{port}"
    stop_process(proc, timeout=20)


def test_ingest_and_ask_through_a_chroma_server(server, tmp_path, seed_titles):
    flags = ["--chroma-url", server, "--data-dir", str(tmp_path / "local")]
    ingested = run_module("rag.ingest", str(SEEDS), *flags)
    assert ingested.returncode == 0, ingested.stderr
    assert "78 papers: 78 added, 0 replaced, 0 unchanged (436 passages added" in ingested.stdout
    assert not (tmp_path / "local" / "chroma").exists()  # the vectors live on the server
    assert Index(Settings(chroma_url=server, data_dir=tmp_path / "other")).count() == 436

    asked = run_module("rag.ask", "--json", "How much higher throughput does FineQuant reach?", *flags)
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert [c["title"] for c in answer["citations"]] == [FINEQUANT]
    assert "3.65" in answer["text"]
    assert {p["title"] for p in answer["retrieved"]} <= seed_titles


def test_unreachable_server_is_one_line_naming_the_url(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    result = run_module("rag.ask", "pruning", "--retrieval-only", "--chroma-url", url, "--data-dir", str(tmp_path))
    assert one_error_line(result).startswith(f"error: cannot reach the Chroma server at {url}: ")


def test_silent_server_times_out_instead_of_hanging(tmp_path):
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        result = run_module("rag.ask", "pruning", "--retrieval-only", "--chroma-url", url, "--data-dir", str(tmp_path),
                            timeout=60)
    assert one_error_line(result) == f"error: cannot reach the Chroma server at {url}: timed out"


def test_server_lost_mid_session_is_a_user_error(tmp_path):
    port = free_port()
    proc = start_server(tmp_path / "server", port)
    index = Index(Settings(chroma_url=f"http://127.0.0.1:{port}", data_dir=tmp_path / "local"))
    assert index.count() == 0
    stop_process(proc, timeout=20)
    with pytest.raises(UserError, match=f"the Chroma server at http://127.0.0.1:{port} failed"):
        index.count()


def test_invalid_url_is_one_line(tmp_path):
    result = run_module("rag.ask", "q", "--retrieval-only", "--chroma-url", "localhost:8000", "--data-dir", str(tmp_path))
    assert one_error_line(result) == "error: invalid Chroma URL 'localhost:8000': use http://HOST:PORT"
