"""The browser chat's pure pieces and session logic, with the fake embedder and LLM (no server, no browser)."""

import re
import socket

import pytest

from rag import prompts
from rag.conversation import Resolved
from rag.errors import UserError
from rag.pipeline import Answer, Found, Sources, Token
from ui import render
from ui.app import LLM_QUEUE, ChatService, build_app, check_port
from ui.library import LibraryService

from fakes import FakeLLM


@pytest.fixture
def service(fake_pipeline) -> ChatService:
    service = ChatService(fake_pipeline)
    service.start_warm_up().join()  # the fake LLM is already there: ready at once
    return service


def events(pipeline, question, **kwargs):
    return list(pipeline.stream(question, **kwargs))


# -- rendering ---------------------------------------------------------------------------------------

def test_escape_shows_titles_literally():
    assert render.escape("FLM-101B: *Open* LLM with $100K [1] <b>") == r"FLM-101B: \*Open\* LLM with \$100K \[1\] \<b\>"
    assert render.escape("1. first\nline") == r"1\. first line"


def test_retrieved_panel_lists_every_paper_with_its_number_passage_and_score(fake_pipeline):
    sources = events(fake_pipeline, "how do they prune Llama?", retrieval_only=True)[1]  # after Found
    papers = sources.retrieval.papers
    numbers = render.source_numbers(sources.sources)
    panel = render.retrieved_panel(papers, numbers, sources.retrieval.ms)
    assert "reading them" in panel
    for paper in papers:
        assert render.escape(paper.title) in panel
        assert f"score {paper.score:.2f}" in panel
        assert render.escape(paper.passages[0].text) in panel
    first = papers[0]
    assert f"**[1] {render.escape(first.title)}**" in panel


def test_panel_numbers_before_the_answer_match_the_answers_citations(fake_pipeline):
    _, sources, *_, answer = events(fake_pipeline, "how do they prune Llama?")
    numbers = render.source_numbers(sources.sources)
    assert answer.citations
    assert {c.n: c.paper_id for c in answer.citations} == {n: pid for pid, n in numbers.items() if n in
                                                            {c.n for c in answer.citations}}


def test_answer_panel_shows_cited_papers_then_uncited_collapsed(fake_pipeline):
    answer = fake_pipeline.ask("how do they prune Llama?")
    assert [c.n for c in answer.citations] == [1]
    panel = render.answer_panel(answer)
    cited = answer.citations[0]
    assert f"**[1] {render.escape(cited.title)}**" in panel
    assert render.escape(cited.snippet) in panel and f"score {cited.score:.2f}" in panel
    head, details = panel.split("<details>")
    uncited = [p for p in answer.retrieved if p.paper_id != cited.paper_id]
    assert uncited and "Retrieved but not cited (%d)" % len(uncited) in details
    for paper in uncited:
        assert render.escape(paper.title) in details and render.escape(paper.title) not in head
    assert "retrieval" in panel and "total" in panel  # timings


def test_abstained_answer_says_why_cites_nothing_and_collapses_every_paper(fake_pipeline):
    fake_pipeline.llm = FakeLLM("I am not sure.")
    fake_pipeline.settings.quote_candidates = 0  # no quoted answer either
    answer = fake_pipeline.ask("how do they prune Llama?")
    assert answer.abstained
    panel = render.answer_panel(answer)
    assert "cites no paper" in panel and f"Retrieved but not cited ({len(answer.retrieved)})" in panel
    assert "Why the answer is a refusal:" in panel and "✗ left out: no source says this" in panel
    assert render.answer_message(answer) == f"{prompts.REFUSAL}\n\n<sub>Why: {render.escape(answer.reason)}.</sub>"


def test_a_quoted_answer_is_labelled_as_a_quote_in_the_chat(fake_pipeline):
    fake_pipeline.llm = FakeLLM(prompts.REFUSAL)
    answer = fake_pipeline.ask("how do they prune Llama?")  # the fake judge says yes to a shared word
    assert answer.quoted
    assert "<sub>Quoted from the source: the model found no answer" in render.answer_message(answer)


def test_answer_message_ends_with_the_cited_titles(fake_pipeline):
    answer = fake_pipeline.ask("how do they prune Llama?")
    message = render.answer_message(answer)
    assert message.startswith(answer.text)
    assert message.endswith(f"[1] {render.escape(answer.citations[0].title)}")


def test_how_a_follow_up_was_understood_is_shown_in_the_panel(fake_pipeline):
    answer = fake_pipeline.ask("how do they prune Llama?")
    assert "Answered as" not in render.answer_panel(answer, resolved=Resolved("q", "q", "standalone"))
    scoped = Resolved("how was it evaluated?", "how was it evaluated? (about LLM-Pruner)", "subject",
                      [("id1", "LLM-Pruner: On the <b>Structural</b> Pruning")])
    panel = render.answer_panel(answer, resolved=scoped)
    assert "**Answered as:** how was it evaluated? (about LLM-Pruner)" in panel
    assert "Among: LLM-Pruner: On the \\<b\\>Structural\\</b\\> Pruning" in panel


# -- the session logic ---------------------------------------------------------------------------------

def content(chat, i=-1) -> str:
    return chat[i]["content"]


@pytest.mark.parametrize("question, message", [
    ("", "The question is empty; please type a question."),
    ("x" * 2500, "The question is too long (2500 characters, at most 2000)."),
])
def test_empty_or_long_question_gives_a_chat_message(service, question, message):
    out = service.start(question, 5, False, [], [], False)
    assert content(out.chat) == f"⚠ {message}"
    assert out.pending.get("__type__") == "update"  # nothing handed to the LLM
    assert service.pipeline.llm.calls == []


def test_retrieval_only_answers_at_once_without_the_llm(service):
    out = service.start("how do they prune Llama?", 3, True, [], [], False)
    assert [m["role"] for m in out.chat] == ["user", "assistant"]
    assert "retrieval only" in content(out.chat) and content(out.chat).count("\n") == 4  # header, blank, 3 papers
    assert "Found 3 papers" in out.panel
    assert out.pending.get("__type__") == "update" and service.pipeline.llm.calls == []
    assert out.turns[-1]["question"] == "how do they prune Llama?" and len(out.turns[-1]["papers"]) == 3


def run_question(service, question, chat=(), history=(), k=5):
    started = service.start(question, k, False, list(chat), list(history), False)
    assert started.busy is True and started.send["interactive"] is False
    assert content(started.chat) == "_Waiting for the model…_"
    return list(service.answer(started.pending, started.chat, list(history)))  # turns: the State, unchanged


def test_answer_fills_the_panel_before_the_first_token_then_streams(service):
    outputs = run_question(service, "how do they prune Llama?")
    panels = [i for i, o in enumerate(outputs) if isinstance(o.panel, str)]
    streamed = [i for i, o in enumerate(outputs) if not content(o.chat).startswith("_")]
    assert panels[0] < streamed[0]
    assert "reading them" in outputs[panels[0]].panel
    first, second = (content(o.chat) for o in outputs[streamed[0]:streamed[0] + 2])
    assert second.startswith(first) and len(second) > len(first)  # token by token
    final = outputs[-1]
    assert final.busy is False and final.send["interactive"] is True
    assert re.search(r"\[1\]", content(final.chat)) and "**Sources**" in content(final.chat)
    assert "Cited by the answer (1)" in outputs[-2].panel
    answer = service.pipeline.ask("how do they prune Llama?")
    assert [(t["question"], t["papers"]) for t in final.turns] == [
        ("how do they prune Llama?", [(c.paper_id, c.title) for c in answer.citations])]


def test_follow_up_is_scoped_to_the_previous_paper_and_shown(service):
    first = run_question(service, "how do they prune Llama?")[-1]
    subject = first.turns[0]["papers"][0]
    outputs = run_question(service, "how was it evaluated?", chat=first.chat, history=first.turns)
    panel = next(o.panel for o in outputs if isinstance(o.panel, str))
    assert "**Answered as:** how was it evaluated? (about" in panel and "a follow-up about the previous" in panel
    assert outputs[-1].turns[-1]["how"] == "subject"
    assert [c["content"] for c in outputs[-1].chat if c["role"] == "user"] == ["how do they prune Llama?",
                                                                            "how was it evaluated?"]
    assert all(t == subject for t in outputs[-1].turns[-1]["papers"])


def test_questions_wait_while_the_model_warms_up(fake_pipeline):
    service = ChatService(fake_pipeline)  # warm-up not started: not ready
    assert "warming up" in service.status()
    started = service.start("how do they prune Llama?", 5, False, [], [], False)
    answering = service.answer(started.pending, started.chat, [])
    assert "warming up" in content(next(answering).chat)
    service.start_warm_up().join()
    assert "Ready" in service.status()
    assert "[1]" in content(list(answering)[-1].chat)


def test_model_that_failed_to_load_gives_a_message_and_search_still_works(fake_pipeline):
    service = ChatService(fake_pipeline)
    service.load_error = "LLM model file not found: /x.gguf"
    service.ready.set()
    assert "failed to load" in service.status()
    final = run_question(service, "how do they prune Llama?")[-1]
    assert content(final.chat) == "⚠ The model is not available (LLM model file not found: /x.gguf)."
    assert "retrieval only" in content(service.start("how do they prune Llama?", 5, True, [], [], False).chat)


def test_pipeline_error_is_a_readable_message_and_the_app_keeps_working(service, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("index unavailable")
        yield

    with monkeypatch.context() as m:
        m.setattr(service.pipeline, "stream", broken)
        final = run_question(service, "how do they prune Llama?")[-1]
    assert content(final.chat).startswith(
        "⚠ Sorry, something went wrong while answering (RuntimeError: index unavailable)")
    assert final.busy is False and final.send["interactive"] is True
    final = run_question(service, "how do they prune Llama?", chat=final.chat, history=final.turns)[-1]
    assert "[1]" in content(final.chat)


def test_a_busy_session_does_not_start_a_second_answer(service):
    out = service.start("how do they prune Llama?", 5, False, [], [], True)
    assert all(value.get("__type__") == "update" for value in out)


def test_api_ask_is_stateless(service):
    text, panel = service.ask("how do they prune Llama?", 5, False)
    assert "[1]" in text and "Cited by the answer" in panel
    text, panel = service.ask("how do they prune Llama?", 5, True)
    assert "retrieval only" in text and "Found 5 papers" in panel


def test_llm_events_share_one_queue_slot_and_retrieval_never_waits(service):
    demo = build_app(service, LibraryService(service.pipeline))
    fns = {fn.name: fn for fn in demo.fns.values()}
    for name in ("answer", "ask"):
        assert (fns[name].concurrency_id, fns[name].concurrency_limit) == (LLM_QUEUE, 1), name
    for name in ("start", "search", "poll_status", "new_chat", "start_adding", "poll", "confirmed"):
        assert fns[name].concurrency_limit is None and fns[name].concurrency_id != LLM_QUEUE, name
    assert {fn.api_name for fn in demo.fns.values() if fn.api_visibility == "public"} == {"ask", "chat", "search"}
    assert (fns["chat"].concurrency_id, fns["chat"].concurrency_limit) == (LLM_QUEUE, 1)


def test_api_chat_carries_the_conversation_in_its_history(service):
    text, panel, history = service.chat("how do they prune Llama?", [], 5)
    assert "[1]" in text and len(history) == 1
    text, panel, history = service.chat("which of those use pruning?", history, 5)
    assert len(history) == 2 and history[1]["how"] == "narrowed" and "Answered as" in panel


def test_stream_event_types_are_what_the_ui_expects(fake_pipeline):
    kinds = [type(e) for e in events(fake_pipeline, "how do they prune Llama?")]
    assert kinds[:2] == [Found, Sources] and kinds[-1] is Answer and set(kinds[2:-1]) == {Token}


def test_busy_port_is_a_one_line_error_before_the_models_load():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(UserError, match=f"cannot serve on 127.0.0.1:{port}"):
            check_port("127.0.0.1", port)
