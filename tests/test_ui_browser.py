"""The browser chat for real: `python -m ui.app` in a subprocess (real models, a fresh index in a temp
folder), driven by Debian's Chromium through Playwright, and its API through gradio_client.

The app starts once for the module; the LLM answers one question at a time (~5-10 s each on 2 cores).
"""

import contextlib
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import NamedTuple

import pytest

from conftest import PROJECT_ROOT, free_port, stop_process

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
PRUNER = "LLM-Pruner: On the Structural Pruning of Large Language Models"
FINEQUANT = "FineQuant: Unlocking Efficiency with Fine-Grained Weight-Only Quantization for LLMs"
MEXA = "MEXA: Multilingual Evaluation of English-Centric LLMs via Cross-Lingual Alignment"
ANSWER_TIMEOUT = 150_000  # ms: a queued answer on a busy 2-core machine
DONE = re.compile(r"Cited by the answer|cites no paper")

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium is not installed (make browser)")


class App(NamedTuple):
    url: str
    pid: int
    data_dir: Path


@contextlib.contextmanager
def serving(data_dir: Path, *args: str):
    """`python -m ui.app` on a free port, until the block ends; its log must hold no traceback."""
    port = free_port()
    log_path = data_dir.parent / f"app-{port}.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "ui.app", "--port", str(port), "--data-dir", str(data_dir),
                                 *args], cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300  # indexing the seeds with the real embedder comes first
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the app exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"the app did not serve within 300 s:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        yield App(url, proc.pid, data_dir)
    finally:
        stop_process(proc, timeout=30)
        log = log_path.read_text()
        assert "Traceback" not in log, log[-3000:]  # every error was handled and shown as a message


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with serving(tmp_path_factory.mktemp("ui") / "data") as app:
        yield app


@pytest.fixture(scope="module")
def app_url(app) -> str:
    return app.url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def open_app(browser, url):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.external_requests = []  # the app is offline: the page loads nothing from elsewhere
    page.on("request", lambda request: None if request.url.startswith((url, "data:", "blob:"))
            else page.external_requests.append(request.url))
    page.goto(url)
    page.locator("#question textarea").wait_for()
    return page


def close(page):
    assert page.external_requests == []
    page.close()


@pytest.fixture
def page(browser, app_url):
    page = open_app(browser, app_url)
    yield page
    close(page)


@pytest.fixture(scope="module")
def chat_page(browser, app_url):
    """One conversation shared by the question and its follow-up."""
    page = open_app(browser, app_url)
    yield page
    close(page)


def ask(page, question: str) -> None:
    page.locator("#question textarea").fill(question)
    page.locator("#question textarea").press("Enter")


def bot(page):
    return page.locator('#chat [data-testid="bot"]').last


def test_question_shows_sources_first_then_streams_a_cited_answer(chat_page):
    from playwright.sync_api import expect

    page = chat_page
    ask(page, "which papers prune Llama?")
    sources = page.locator("#sources")
    expect(sources).to_contain_text(PRUNER, timeout=ANSWER_TIMEOUT)  # may wait for the model's warm-up
    assert "reading them" in sources.inner_text()  # retrieval is shown while the answer is still coming
    assert "Sources" not in bot(page).inner_text()
    expect(sources).to_contain_text(DONE, timeout=ANSWER_TIMEOUT)
    expect(bot(page)).to_contain_text(re.compile(r"\[\d+\]"))
    expect(bot(page)).to_contain_text(PRUNER)
    expect(sources).to_contain_text(f"[1] {PRUNER}")
    expect(page.locator("#ask")).to_be_enabled()


def test_a_three_turn_conversation_stays_on_the_papers_being_discussed(chat_page):
    from playwright.sync_api import expect

    page = chat_page
    if not page.locator('#chat [data-testid="bot"]').count():  # run alone: start the conversation
        ask(page, "which papers prune Llama?")
        expect(page.locator("#sources")).to_contain_text(DONE, timeout=ANSWER_TIMEOUT)
        expect(page.locator("#ask")).to_be_enabled()
    listed = re.findall(r"^\[\d+\] (.+)$", bot(page).inner_text(), re.MULTILINE)
    sources = page.locator("#sources")
    ask(page, "which of those use knowledge distillation?")
    expect(sources).to_contain_text("narrowing the last list", timeout=ANSWER_TIMEOUT)
    expect(sources).to_contain_text(DONE, timeout=ANSWER_TIMEOUT)
    expect(page.locator("#ask")).to_be_enabled()
    assert "Answered as: which papers use knowledge distillation?" in sources.inner_text()
    assert set(re.findall(r"^\[\d+\] (.+)$", bot(page).inner_text(), re.MULTILINE)) <= set(listed)
    ask(page, "how much training data did the first one need?")
    expect(sources).to_contain_text("by its place", timeout=ANSWER_TIMEOUT)
    expect(sources).to_contain_text(DONE, timeout=ANSWER_TIMEOUT)
    expect(page.locator("#ask")).to_be_enabled()
    assert page.locator('#chat [data-testid="user"]').count() == 3
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ui.png"), full_page=True)


def test_when_the_checks_change_the_streamed_answer_the_chat_says_why(page):
    from playwright.sync_api import expect

    ask(page, "What BLEU score does OWSM-CTC get on speech translation?")  # no source names BLEU
    sources = page.locator("#sources")
    expect(sources).to_contain_text(DONE, timeout=ANSWER_TIMEOUT)
    expect(bot(page)).to_contain_text(re.compile(r"(Why|Quoted from the source|Checked): "))
    panel = sources.inner_text()
    assert re.search(r"Why the answer (is a refusal|differs from the model's)", panel)
    page.get_by_text("The model's sentences, checked").click()
    expect(sources).to_contain_text("✗ left out: ")  # the streamed sentence, and why it was dropped
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ui-checked.png"), full_page=True)


def test_empty_and_too_long_questions_show_a_message(page):
    from playwright.sync_api import expect

    page.locator("#ask").click()
    expect(bot(page)).to_have_text("⚠ The question is empty; please type a question.")
    ask(page, "why " * 600)
    expect(bot(page)).to_contain_text("The question is too long")
    body = page.locator("body").inner_text()
    assert "Traceback" not in body and "Error" not in body
    expect(page.locator("#ask")).to_be_enabled()


def test_example_click_asks_it_and_retrieval_only_does_not_wait_for_the_llm(page, browser, app_url):
    from playwright.sync_api import expect

    example = "How much higher throughput does FineQuant reach?"
    page.get_by_role("button", name=example).click()
    expect(page.locator('#chat [data-testid="user"]').last).to_have_text(example)
    # Meanwhile another user's retrieval-only question is answered at once, not queued behind the LLM.
    other = open_app(browser, app_url)
    try:
        other.get_by_text("Settings").click()
        other.locator("#retrieval-only input").check()
        llm_busy = not DONE.search(page.locator("#sources").inner_text())
        start = time.monotonic()
        ask(other, "What is MEXA?")
        expect(bot(other)).to_contain_text(MEXA, timeout=10_000)
        assert time.monotonic() - start < 10
        if llm_busy:  # (always on a 2-core CPU) the papers came before the LLM's answer
            assert not DONE.search(page.locator("#sources").inner_text())
        expect(other.locator("#sources")).to_contain_text("retrieval only")
    finally:
        close(other)
    expect(page.locator("#sources")).to_contain_text(DONE, timeout=ANSWER_TIMEOUT)
    expect(bot(page)).to_contain_text(FINEQUANT)
    expect(page.locator("#ask")).to_be_enabled()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ui-example.png"))


def test_api_chat_carries_the_conversation_in_its_history(app_url):
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    text, _, history = client.predict("What is MEXA?", None, 5, api_name="/chat")
    assert MEXA in text and [t["how"] for t in history] == ["standalone"]
    text, panel, history = client.predict("how does it measure alignment?", history, 5, api_name="/chat")
    assert "Answered as:" in panel and "MEXA" in panel and [t["how"] for t in history] == ["standalone", "subject"]


def test_api_answers_with_citations_and_search_does_not_wait(app_url):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    client = Client(app_url, verbose=False)
    job = client.submit("What is MEXA?", 5, False, api_name="/ask")
    start = time.monotonic()
    papers = client.predict("which papers prune Llama?", 5, api_name="/search")
    searched = time.monotonic() - start
    assert PRUNER in papers and searched < 5
    assert not job.done()  # the search did not wait behind the answer
    answer, sources = job.result(timeout=ANSWER_TIMEOUT / 1000)
    assert re.search(r"\[\d+\]", answer) and MEXA in answer
    assert f"[1] {MEXA}" in sources or MEXA in sources
    listing, _ = client.predict("which papers prune Llama?", 3, True, api_name="/ask")
    assert "retrieval only" in listing and PRUNER in listing
    with pytest.raises(AppError, match="the question is empty"):
        client.predict("  ", 5, False, api_name="/ask")


def test_eight_simultaneous_users_are_all_answered_and_memory_stays_flat(app, tmp_path):
    """16 answers through the API, 8 at a time: none is lost or mixed up, and the app's memory stays flat.
    This app runs the small (0.5B) LLM on short prompts, on a copy of the first app's index: the test is about
    concurrency, not answers."""
    from gradio_client import Client

    from eval.bench_scale import rss_mb
    from eval.run import load_qa
    from rag.prompts import REFUSAL
    from rag.weights import small_llm_model

    items = [i for i in load_qa(PROJECT_ROOT / "eval" / "qa.jsonl") if i.type == "factoid"][:8]
    small_llm = ["--llm-model", str(small_llm_model(progress=False)), "--evidence-tokens", "120",
                 "--max-answer-tokens", "32"]
    shutil.copytree(app.data_dir, tmp_path / "data")  # no second ingest of the seeds
    with serving(tmp_path / "data", *small_llm) as busy:
        client = Client(busy.url, verbose=False)

        def answer_at_once() -> None:
            jobs = [(item, client.submit(item.question, 2, False, api_name="/ask")) for item in items]
            for item, job in jobs:
                answer, sources = job.result(timeout=600)
                assert re.search(r"\[\d+\]", answer) or REFUSAL in answer, answer
                assert item.gold_titles[0] in sources  # each user got the answer to their own question

        answer_at_once()
        warm = rss_mb(busy.pid)
        answer_at_once()
        grown = rss_mb(busy.pid) - warm
    print(f"app memory after 8 answers {warm:.0f} MB, after 16: {warm + grown:.0f} MB")
    assert grown < 0.05 * warm


def test_library_tab_adds_a_file_shows_topics_and_the_new_papers_are_searchable(page, app_url, tmp_path):
    import json

    from gradio_client import Client
    from playwright.sync_api import expect

    from ui.library import topic_question

    corpus = tmp_path / "ocean notes.jsonl"
    corpus.write_text("\n".join(json.dumps(r) for r in [
        {"title": "Whale Song Transcription with Transformers", "date": "2024-05-02",
         "abstract": "We transcribe humpback whale song with a transformer encoder trained on 900 hours of "
                     "ocean recordings, and reach a unit error rate of 12%."},
        {"title": "Glacier Melt Forecasting from Satellite Images", "date": "2023-11-20",
         "abstract": "We forecast glacier melt from satellite images with a convolutional network trained on "
                     "twenty years of observations."}]) + "\n{not json\n")
    page.get_by_role("tab", name="Library").click()
    expect(page.locator("#library-summary")).to_contain_text("78 papers")
    expect(page.locator("#topics")).to_contain_text(re.compile(r"\w"))  # the topics, computed at page load
    page.locator("#upload input[type=file]").set_input_files(str(corpus))
    page.locator("#add").click()
    jobs = page.locator("#jobs")
    expect(jobs).to_contain_text("ocean-notes.jsonl: 2 papers added, 0 replaced, 0 unchanged; 1 records skipped",
                                 timeout=60_000)
    expect(jobs).to_contain_text("ocean-notes.jsonl:3: invalid JSON")
    expect(page.locator("#library-summary")).to_contain_text("80 papers")
    page.locator("#library-search input, #library-search textarea").first.fill("whale")
    expect(page.locator("#library-table")).to_contain_text("Whale Song Transcription")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ui-library.png"), full_page=True)
    client = Client(app_url, verbose=False)
    found = client.predict("transcribing whale song", 3, ["ocean-notes.jsonl"], "", "", api_name="/search")
    assert "Whale Song Transcription" in found and "Glacier" in found and "LLM" not in found
    none = client.predict("transcribing whale song", 3, None, "2030", "", api_name="/search")
    assert "Whale" not in none
    topic = page.locator("#topics button").first  # a topic asks about itself in the chat
    label = topic.inner_text().strip()
    topic.click()
    expect(page.locator('#chat [data-testid="user"]').last).to_have_text(topic_question(label))
    expect(page.locator("#sources")).to_contain_text(DONE, timeout=ANSWER_TIMEOUT)
    expect(page.locator("#ask")).to_be_enabled()
    ask(page, "How many hours of ocean recordings trained the whale song transcriber?")  # only the upload says
    expect(bot(page)).to_contain_text("Whale Song Transcription with Transformers", timeout=ANSWER_TIMEOUT)
    expect(page.locator("#ask")).to_be_enabled(timeout=ANSWER_TIMEOUT)
    page.get_by_role("tab", name="Library").click()  # remove it again, after a confirmation
    page.locator("#remove-source input").click()
    page.get_by_role("option", name="ocean-notes.jsonl").click()
    page.locator("#remove").click()
    page.locator("#confirm-remove").click()
    expect(page.locator("#library-summary")).to_contain_text("78 papers")
    gone = client.predict("transcribing whale song", 3, None, "", "", api_name="/search")
    assert "Whale" not in gone


def test_beyond_loopback_without_a_login_the_library_cannot_be_changed(app, browser, tmp_path):
    from playwright.sync_api import expect

    data_dir = tmp_path / "data"
    shutil.copytree(app.data_dir, data_dir)  # the index the first app built: no second ingest
    with serving(data_dir, "--host", "0.0.0.0") as open_to_all:
        page = open_app(browser, open_to_all.url)
        page.get_by_role("tab", name="Library").click()
        expect(page.locator("#library-locked")).to_contain_text("listens on 0.0.0.0, beyond this machine, without "
                                                                "a login")
        # reading stays open (the page's first refresh computes the topics too: slow on a busy machine)
        expect(page.locator("#library-summary")).to_contain_text("78 papers", timeout=30_000)
        expect(page.locator("#add")).to_be_disabled()
        expect(page.locator("#remove")).to_be_disabled()
        expect(page.locator("#upload input[type=file]")).to_have_count(0)
        close(page)
