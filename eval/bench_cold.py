"""Cold start, measured from fresh processes: `python -m eval.bench_cold [--runs 5]` (`make bench-cold`).

Wall time from launching each command to the papers printed, the first answer token and the exit; for the
app, to its "Ready" (model loaded and page served). Median of the runs, model files in the page cache (a
first run warms it and is not counted). Writes the "## Cold start" section of eval/RESULTS.md."""

from __future__ import annotations

import argparse
import os
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from eval.report import COLD_SECTION as SECTION
from eval.report import table, write_section
from rag.cli import run_cli
from rag.settings import PROJECT_ROOT

QUESTION = "What is MEXA?"
TIMEOUT_S = 300


def run_cli_command(args: list[str], stdin: str | None = None) -> dict[str, float | None]:
    """Seconds from launch to the papers list, the first character after it (the first token), and exit."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", *args], cwd=PROJECT_ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    if stdin is not None:
        proc.stdin.write(stdin.encode())
    proc.stdin.close()
    output, papers, first_token = b"", None, None
    while True:
        ready, _, _ = select.select([proc.stdout], [], [], TIMEOUT_S)
        chunk = os.read(proc.stdout.fileno(), 4096) if ready else b""
        if not chunk:
            break
        output += chunk
        now = time.perf_counter() - start
        if papers is None and b"Papers found" in output:
            papers = now
        if papers is not None and first_token is None:
            after = output.split(b"Papers found", 1)[1].split(b"\n\n", 1)
            if len(after) > 1 and after[1].strip():
                first_token = now
    proc.wait(timeout=TIMEOUT_S)
    return {"papers_s": papers, "first_token_s": first_token, "exit_s": time.perf_counter() - start}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_app() -> dict[str, float | None]:
    """Seconds from launch to the model loaded ('LLM ready' in the log) with the page served."""
    port = free_port()
    log_file = tempfile.NamedTemporaryFile(suffix=".log")
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "ui.app", "--port", str(port)], cwd=PROJECT_ROOT,
                            stdout=subprocess.DEVNULL, stderr=log_file)
    ready = served = None
    try:
        while (ready is None or served is None) and time.perf_counter() - start < TIMEOUT_S:
            log = Path(log_file.name).read_text(errors="replace")
            now = time.perf_counter() - start
            if ready is None and "LLM ready" in log:
                ready = now
            if served is None:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}", timeout=1) as response:
                        served = now if response.status == 200 else None
                except OSError:
                    pass
            time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log_file.close()
    return {"ready_s": max(ready, served) if ready and served else None, "served_s": served}


def median(values: list[float | None]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench_cold", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per command (median reported)")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "eval" / "RESULTS.md")
    args = parser.parse_args(argv)
    commands = {
        f'rag.ask "{QUESTION}"': lambda: run_cli_command(["rag.ask", QUESTION]),
        f'rag.ask --retrieval-only "{QUESTION}"': lambda: run_cli_command(["rag.ask", "--retrieval-only", QUESTION]),
        'rag.chat (one question on stdin)': lambda: run_cli_command(["rag.chat"], stdin=QUESTION + "\n"),
        "ui.app (to Ready)": run_app,
    }
    rows = []
    for name, run in commands.items():
        run()  # warms the page cache; not counted
        runs = [run() for _ in range(args.runs)]
        print(name, runs, flush=True)
        rows.append([f"`{name}`", *[median([r.get(key) for r in runs])
                                     for key in ("papers_s", "first_token_s", "exit_s", "ready_s")]])
    text = "\n".join([SECTION, "", f"`python -m eval.bench_cold --runs {args.runs}`: wall seconds from launching a "
                      f"fresh process, median of {args.runs} runs after one that warms the page cache.", "",
                      table(["command", "papers printed", "first answer token", "exit", "app Ready"], rows), ""])
    write_section(args.out, SECTION, text)
    print(text)
    return 0


if __name__ == "__main__":
    run_cli(main)
