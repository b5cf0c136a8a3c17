"""Browser chat over the indexed papers: `python -m ui.app` (or `make ui`), then open http://127.0.0.1:7860.

One Pipeline serves every user. Retrieval (and retrieval-only questions) runs at once for anyone; answers
that need the LLM wait in one gradio queue (concurrency 1, shared with the `/ask` API), so users see their
place in it. The LLM loads in the background at start; questions asked meanwhile wait for it.
"""
# No `from __future__ import annotations`: gr.api reads the API function's real type hints.

import argparse
import ipaddress
import logging
import os
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Iterator, NamedTuple

import gradio as gr  # ui/__init__.py has set gradio's environment first

from rag.backends import LLM
from rag.cli import add_settings_flags, run_cli, settings_from_flags
from rag.conversation import Conversation, Resolved
from rag.errors import UserError
from rag.pipeline import Answer, Found, Pipeline, Sources, Token, clean_question
from rag.retrieve import Filters
from ui import render
from ui.library import MAX_UPLOAD_MB, LibraryService, build_library_tab, topic_question

log = logging.getLogger("ui")

EXAMPLES = [
    "Which papers prune Llama?",
    "How much higher throughput does FineQuant reach?",
    "What is MEXA?",
    "Which papers are about speech?",
    "What word error rate does Denoising LM achieve on LibriSpeech test-clean?",
]
MAX_K = 10
LLM_QUEUE = "llm"  # gradio concurrency group of everything that generates with the one model

WAITING = "_Waiting for the model…_"


class Started(NamedTuple):
    """Outputs of ChatService.start, in the order of the event's output components."""
    question: object
    chatbot: object
    chat: object
    panel: object
    pending: object
    turns: object
    busy: object
    send: object


class Answered(NamedTuple):
    """Outputs of ChatService.answer."""
    chatbot: object
    chat: object
    panel: object
    turns: object
    busy: object
    send: object


CSS = """
#sources { max-height: 78vh; overflow-y: auto; padding: 0 12px; }
#sources blockquote { font-size: 0.9em; margin: 4px 0 12px 0; }
#status p { margin: 0; }
"""


class ChatService:
    """The state shared by every browser session: the pipeline and the LLM's readiness."""

    def __init__(self, pipeline: Pipeline):
        self.pipeline = pipeline
        self.ready = threading.Event()
        self.load_error: str | None = None
        self.load_seconds: float | None = None

    # -- warm-up -------------------------------------------------------------------------------------

    def start_warm_up(self) -> threading.Thread:
        thread = threading.Thread(target=self._warm_up, name="llm-warm-up", daemon=True)
        thread.start()
        return thread

    def _warm_up(self) -> None:
        start = time.perf_counter()
        try:
            self.pipeline.load_llm()
            self.load_seconds = time.perf_counter() - start
            log.info("LLM ready in %.1f s", self.load_seconds)
        except Exception as e:  # shown in the status line; retrieval-only keeps working
            log.exception("LLM failed to load")
            self.load_error = f"{e}" if isinstance(e, UserError) else f"{type(e).__name__}: {e}"
        finally:
            self.ready.set()

    def status(self) -> str:
        if not self.ready.is_set():
            return ("**Model warming up…** Questions asked now are answered as soon as it is ready; "
                    "retrieval-only search works already.")
        if self.load_error:
            return (f"✗ **The model failed to load:** {render.escape(self.load_error)}. "
                    "Retrieval-only search still works.")
        return (f"✓ **Ready.** Model loaded in {self.load_seconds:.1f} s. Answers are generated one at a time on "
                "this CPU; other questions wait in the queue.")

    def llm(self) -> LLM:
        """The loaded LLM, waiting for the warm-up if needed (never loads a second copy)."""
        self.ready.wait()
        if self.load_error:
            raise UserError(f"the model is not available ({self.load_error})")
        return self.pipeline.llm

    # -- answering -----------------------------------------------------------------------------------

    def retrieval_only(self, question: str, k: int, turns: list[dict] | None = None, filters: Filters | None = None
                       ) -> tuple[str, str, list[dict]]:
        """(chat message, panel, turns) for a question answered with the matching papers only (no LLM)."""
        conversation = Conversation(self.pipeline, Conversation.turns_from_dicts(turns or []), filters)
        resolved = None
        for event in conversation.stream(question, k, retrieval_only=True):
            if isinstance(event, Resolved):
                resolved = event
            elif isinstance(event, Sources):
                r = event.retrieval
                panel = render.retrieved_panel(r.papers, render.source_numbers(event.sources), r.ms,
                                               resolved=resolved, answering=False)
                message = render.papers_message(r.papers, r.ms)
        return message, panel, conversation.to_dicts()

    def answer_events(self, question: str, k: int, turns: list[dict], filters: Filters | None = None):
        """Yield (chat text, panel or None, the conversation's turns once answered, else None)."""
        if not self.ready.is_set():
            yield "_The model is warming up; your question is answered as soon as it is ready…_", None, None
        self.llm()
        conversation = Conversation(self.pipeline, Conversation.turns_from_dicts(turns), filters)
        resolved = None
        text = ""
        for event in conversation.stream(question, k):
            if isinstance(event, Resolved):
                resolved = event
            elif isinstance(event, Found):  # the papers at once; their numbered sources once the evidence is read
                found = f"_Found {len(event.retrieval.papers)} papers; reading them…_"
                yield found, None, None
            elif isinstance(event, Sources):
                r = event.retrieval
                yield found, render.retrieved_panel(r.papers, render.source_numbers(event.sources), r.ms,
                                                    resolved=resolved), None
            elif isinstance(event, Token):
                text += event.text
                yield render.escape_lines(text), None, None
            elif isinstance(event, Answer):
                yield render.answer_message(event), render.answer_panel(event, resolved=resolved), conversation.to_dicts()

    def chat(self, question: str, turns: list[dict], k: int, filters: Filters | None = None
             ) -> tuple[str, str, list[dict]]:
        """One turn of a conversation, as the `/chat` API answers it: (answer, sources Markdown, turns)."""
        answer = panel = ""
        for text, new_panel, new_turns in self.answer_events(question, k, turns, filters):
            answer, panel = text, new_panel or panel
            if new_turns is not None:
                return answer, panel, new_turns
        raise AssertionError("no answer")

    def ask(self, question: str, k: int, retrieval_only: bool, filters: Filters | None = None) -> tuple[str, str]:
        """One stateless question, as the `/ask` API answers it: (answer text, sources Markdown)."""
        if retrieval_only:
            message, panel, _ = self.retrieval_only(question, k, filters=filters)
            return message, panel
        self.llm()
        answer = self.pipeline.ask(question, k=k, filters=filters)
        return render.answer_message(answer), render.answer_panel(answer)

    # -- the browser session's events ----------------------------------------------------------------
    # Chat messages are kept in a gr.State as {"role", "content": str} dicts and shown by the Chatbot.

    def start(self, text: str, k, only: bool, chat: list, history: list, busy: bool, sources: list | None = None,
              since: str = "", until: str = "") -> Started:
        """Every question starts here, at once for everyone (never queued behind the LLM): check it,
        answer a retrieval-only question right away, or hand it to the LLM queue through `pending`."""
        if busy:
            gr.Info("Wait for the current answer to finish.")
            return Started(*[gr.skip()] * len(Started._fields))
        chat = list(chat)
        try:
            q = clean_question(text or "")
            filters = Filters(tuple(sources or ()), since or "", until or "")
        except UserError as e:
            shown = (text or "").strip()
            if shown:
                chat.append({"role": "user", "content": shown[:300] + ("…" if len(shown) > 300 else "")})
            hint = "; please type a question" if not shown else ""
            chat.append({"role": "assistant", "content": render.error_message(f"{e}{hint}")})
            return Started("", chat, chat, gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip())
        chat.append({"role": "user", "content": q})
        k = clamp_k(k)
        if only:
            panel = gr.skip()
            try:
                message, panel, history = self.retrieval_only(q, k, history, filters)
            except Exception as e:
                log.exception("retrieval of %r failed", q)
                message = render.error_message(f"sorry, the search failed ({type(e).__name__}: {e}); please try again")
            chat.append({"role": "assistant", "content": message})
            return Started("", chat, chat, panel, gr.skip(), history, gr.skip(), gr.skip())
        chat.append({"role": "assistant", "content": WAITING})
        request = {"id": uuid.uuid4().hex, "question": q, "k": k, "filters": filters}  # new each time: triggers `answer`
        return Started("", chat, chat, gr.skip(), request, gr.skip(), True, gr.update(interactive=False))

    def answer(self, request: dict | None, chat: list, history: list) -> Iterator[Answered]:
        """The LLM part, one at a time across all users: rewrite a follow-up, retrieve, fill the sources
        panel, stream the answer, then replace it by the final text. Never raises: errors become a
        message in the chat and the session stays usable."""
        if not request:
            return
        chat, history = list(chat), list(history)
        try:
            for text, panel, turns in self.answer_events(request["question"], request["k"], history,
                                                         request["filters"]):
                chat = [*chat[:-1], {"role": "assistant", "content": text}]  # a new list per update
                if turns is not None:
                    history = turns
                yield Answered(chat, chat, gr.skip() if panel is None else panel, history, gr.skip(), gr.skip())
        except UserError as e:
            chat[-1] = {"role": "assistant", "content": render.error_message(str(e))}
        except Exception as e:  # the details go to the server log
            log.exception("answering %r failed", request["question"])
            chat[-1] = {"role": "assistant", "content": render.error_message(
                f"sorry, something went wrong while answering ({type(e).__name__}: {e}); please try again")}
        yield Answered(chat, chat, gr.skip(), history, False, gr.update(interactive=True))

    def new_chat(self, busy: bool) -> tuple:
        if busy:
            gr.Info("Wait for the current answer to finish.")
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        return [], [], [], render.EMPTY_PANEL


def clamp_k(k) -> int:
    try:
        return max(1, min(MAX_K, int(k)))
    except (TypeError, ValueError):
        return 5


def build_app(service: ChatService, library: LibraryService) -> gr.Blocks:
    settings = service.pipeline.settings
    with gr.Blocks(title="papers-rag", fill_width=True) as demo:
        chat_state = gr.State([])  # the messages shown (role/content dicts with plain-text content)
        turns = gr.State([])  # the conversation's turns (Conversation.to_dicts), for follow-ups
        pending = gr.State(None)  # a question handed to the LLM queue; each new value triggers it
        busy = gr.State(False)  # this session has an answer in progress

        gr.Markdown("## papers-rag · ask the research-paper abstracts\nEvery answer cites the papers it comes "
                    "from: [n] points at source n in the panel on the right. Runs fully offline on this CPU.")
        status = gr.Markdown(service.status(), elem_id="status")
        with gr.Tabs() as tabs, gr.Tab("Chat", id="chat-tab"), gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(label="Chat", elem_id="chat", height=520, feedback_options=None,
                                     buttons=["copy"], group_consecutive_messages=False,
                                     placeholder="Ask a question about the papers, or pick an example below.")
                with gr.Row():
                    question = gr.Textbox(show_label=False, placeholder="e.g. which papers prune Llama?",
                                          elem_id="question", scale=6, max_lines=4, autofocus=True)
                    send = gr.Button("Ask", variant="primary", elem_id="ask", scale=1, min_width=80)
                    clear = gr.Button("New chat", elem_id="clear", scale=1, min_width=80)
                examples = gr.Examples(EXAMPLES, inputs=[question], label="Example questions (click to ask)")
                with gr.Accordion("Settings", open=False, elem_id="settings"):
                    k = gr.Slider(1, MAX_K, value=min(settings.k, MAX_K), step=1, label="Number of papers (k)",
                                  elem_id="k")
                    retrieval_only = gr.Checkbox(False, label="Retrieval only: list the matching papers at once, "
                                                 "without the LLM", elem_id="retrieval-only")
                    source_filter = gr.Dropdown([], multiselect=True, label="Only papers from these sources (none: "
                                                "all)", elem_id="source-filter")
                    with gr.Row():
                        since = gr.Textbox(label="Dated from (YYYY-MM-DD)", elem_id="since", max_lines=1)
                        until = gr.Textbox(label="Dated until (YYYY-MM-DD)", elem_id="until", max_lines=1)
            with gr.Column(scale=2):
                panel = gr.Markdown(render.EMPTY_PANEL, elem_id="sources", container=True)
        with tabs, gr.Tab("Library", id="library-tab"):
            library_tab = build_library_tab(library, source_filter)

        def poll_status():
            return service.status(), gr.Timer(active=not service.ready.is_set())

        start_io = dict(fn=service.start, inputs=[question, k, retrieval_only, chat_state, turns, busy,
                                                  source_filter, since, until],
                        outputs=[question, chatbot, chat_state, panel, pending, turns, busy, send],
                        concurrency_limit=None, show_progress="hidden", api_visibility="private")
        question.submit(**start_io)
        send.click(**start_io)
        examples.load_input_event.then(**start_io)
        # A topic of the Library tab asks "which papers are about <topic>?" in the chat.
        library_tab.topics.click(lambda sample: (topic_question(sample[0]), gr.Tabs(selected="chat-tab")),
                                 inputs=[library_tab.topics], outputs=[question, tabs], concurrency_limit=None,
                                 show_progress="hidden", api_visibility="private").then(**start_io)
        # The LLM queue: one generation at a time, shared with the /ask API; gradio shows each waiting user
        # their place in it on the chat.
        pending.change(service.answer, inputs=[pending, chat_state, turns],
                       outputs=[chatbot, chat_state, panel, turns, busy, send],
                       concurrency_limit=1, concurrency_id=LLM_QUEUE, show_progress="full",
                       show_progress_on=[chatbot], api_visibility="private")
        for trigger in (clear.click, chatbot.clear):  # the button and the chat's own trash icon
            trigger(service.new_chat, inputs=[busy], outputs=[chatbot, chat_state, turns, panel],
                    concurrency_limit=None, show_progress="hidden", api_visibility="private")

        timer = gr.Timer(1.0, active=not service.ready.is_set())
        timer.tick(poll_status, outputs=[status, timer], concurrency_limit=None, show_progress="hidden",
                   api_visibility="private")
        demo.load(poll_status, outputs=[status, timer], concurrency_limit=None, show_progress="hidden",
                  api_visibility="private")
        demo.load(library_tab.refresh, outputs=library_tab.outputs, concurrency_limit=None, show_progress="hidden",
                  api_visibility="private")

        def ask(question: str, k: int = 5, retrieval_only: bool = False, sources: list[str] | None = None,
                since: str = "", until: str = "") -> tuple[str, str]:
            """Answer one question (no conversation): returns (answer text with [n] markers and the cited
            titles, sources panel as Markdown). retrieval_only=True lists the matching papers without the LLM.
            sources, since and until (YYYY[-MM[-DD]]) limit the papers used."""
            return api_call("ask", lambda: service.ask(question, clamp_k(k), bool(retrieval_only),
                                                       Filters(tuple(sources or ()), since, until)))

        gr.api(ask, api_name="ask", concurrency_limit=1, concurrency_id=LLM_QUEUE)

        def chat(question: str, history: list | None = None, k: int = 5, sources: list[str] | None = None,
                 since: str = "", until: str = "") -> tuple[str, str, list]:
            """One turn of a conversation: returns (answer text with [n] markers and the cited titles, sources
            panel as Markdown, history). Pass the returned history with the next question; none starts anew.
            Follow-ups ("which of those use LoRA?", "how was it evaluated?") are answered among the papers
            of the previous answer. sources, since and until limit the papers used, as for /ask."""
            try:
                Conversation.turns_from_dicts(history or [])
            except ValueError as e:
                raise gr.Error(f"invalid history: {e}", print_exception=False) from None
            return api_call("chat", lambda: service.chat(question, history or [], clamp_k(k),
                                                         Filters(tuple(sources or ()), since, until)))

        gr.api(chat, api_name="chat", concurrency_limit=1, concurrency_id=LLM_QUEUE)

        def search(question: str, k: int = 5, sources: list[str] | None = None, since: str = "",
                   until: str = "") -> str:
            """The matching papers only (no LLM, never waits for the queue), as Markdown."""
            return api_call("search", lambda: service.retrieval_only(question, clamp_k(k), None, Filters(
                tuple(sources or ()), since, until)))[1]

        gr.api(search, api_name="search", concurrency_limit=None)
    return demo


def api_call(name: str, work):
    """An API endpoint's work: user mistakes and failures become one readable gradio error, never a traceback."""
    try:
        return work()
    except UserError as e:
        raise gr.Error(str(e), print_exception=False) from None
    except Exception as e:
        log.exception("/%s failed", name)
        raise gr.Error(f"something went wrong ({type(e).__name__}: {e})", print_exception=False) from None


def check_port(host: str, port: int) -> None:
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            s.bind((host, port))
    except OSError as e:
        raise UserError(f"cannot serve on {host}:{port} ({e.strerror or e}); choose another with --port") from None


USERS_FILE_ENV = "RAG_UI_USERS_FILE"


def read_users() -> list[tuple[str, str]]:
    """Logins from the file named by RAG_UI_USERS_FILE, one `user:password` a line (never from the command
    line, where other users of the machine would see them)."""
    path = os.environ.get(USERS_FILE_ENV)
    if not path:
        return []
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as e:
        raise UserError(f"cannot read the users file {path} ({e.strerror})") from None
    users = [tuple(line.strip().split(":", 1)) for line in lines if line.strip() and not line.strip().startswith("#")]
    if not users or any(len(u) != 2 or not all(u) for u in users):
        raise UserError(f"the users file {path} needs lines of the form user:password")
    return users


def is_loopback(host: str) -> bool:
    """Whether serving on `host` keeps the app on this machine (127.0.0.1, ::1, localhost)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ui.app", description="Browser chat over the indexed papers "
                                     "(indexes the corpus first if the index is empty).")
    parser.add_argument("--host", default=os.environ.get("RAG_UI_HOST", "127.0.0.1"),
                        help="address to serve on (env RAG_UI_HOST; default 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=int, default=os.environ.get("RAG_UI_PORT", "7860"),
                        help="port (env RAG_UI_PORT; default 7860)")
    add_settings_flags(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per gradio self-check otherwise
    settings = settings_from_flags(args)
    check_port(args.host, args.port)  # fail fast, before the models load
    users = read_users()
    loopback = is_loopback(args.host)
    pipeline = Pipeline(settings)
    pipeline.ensure_index()
    service = ChatService(pipeline)
    service.start_warm_up()
    library = LibraryService(pipeline, can_change=loopback or bool(users), why_not=(
        f"the app listens on {args.host}, beyond this machine, without a login. Put users (lines user:password) "
        f"in a file named by {USERS_FILE_ENV} and restart"))
    demo = build_app(service, library)
    demo.queue(default_concurrency_limit=None)
    try:
        demo.launch(server_name=args.host, server_port=args.port, share=False, css=CSS, auth=users or None,
                    auth_message="papers-rag: log in to ask and to change the library.",
                    max_file_size=f"{MAX_UPLOAD_MB}mb", theme=gr.themes.Soft(), footer_links=["api"],
                    run_history=False)
    except OSError as e:
        raise UserError(f"cannot serve on {args.host}:{args.port} ({e})") from None
    return 0


if __name__ == "__main__":
    run_cli(main)
