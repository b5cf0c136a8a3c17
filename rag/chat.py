"""Chat about the indexed papers in the terminal: `python -m rag.chat`. Follow-ups ("which of those use
LoRA?", "how was it evaluated?") stay on the papers being discussed; /new starts over, /sources shows the
last answer's sources, Ctrl-D quits. `--json`: one question per line on standard input, one JSON answer per
line on standard output, so `printf 'q1\\nq2\\n' | python -m rag.chat --json` runs a whole conversation."""

from __future__ import annotations

import argparse
import json
import sys

from rag.ask import print_events
from rag.cli import add_filter_flags, add_settings_flags, filters_from_flags, run_cli, settings_from_flags
from rag.conversation import Conversation, Resolved, answer_record
from rag.errors import UserError
from rag.pipeline import Answer, Pipeline

HELP = "Ask about the papers. /new starts a new conversation, /sources lists the last sources, Ctrl-D quits."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rag.chat", description=__doc__.split(":")[0])
    parser.add_argument("--json", action="store_true", help="questions one per line on stdin, JSON answers on stdout")
    add_filter_flags(parser)
    add_settings_flags(parser)
    args = parser.parse_args(argv)
    filters = filters_from_flags(args)  # a bad date fails before anything loads
    pipeline = Pipeline(settings_from_flags(args))
    # Load while the user types; piped questions are there at once, and a load beside retrieval (it holds the
    # GIL) would only delay the first papers.
    if sys.stdin is not None and sys.stdin.isatty():
        pipeline.start_loading_llm()
    pipeline.ensure_index(progress=not args.json)
    conversation = Conversation(pipeline, filters=filters)
    if args.json:
        for line in sys.stdin:
            if line.strip():
                print(json.dumps(json_turn(conversation, line), ensure_ascii=False), flush=True)
        return 0
    chat(conversation)
    return 0


def json_turn(conversation: Conversation, question: str) -> dict:
    """One answer record; a question that cannot be asked is an error record and the conversation goes on."""
    try:
        resolved, answer = conversation.ask(question)
    except UserError as e:
        return {"question": question.strip(), "error": str(e)}
    return answer_record(resolved, answer)


def chat(conversation: Conversation) -> None:
    try:
        import readline  # noqa: F401  (line editing and history for input())
    except ImportError:
        pass
    print(HELP)
    last: Answer | None = None
    while True:
        try:
            line = input("\nyou> ").strip()
        except EOFError:
            print()
            return
        if line == "/new":
            conversation.turns.clear()
            print("New conversation.")
        elif line == "/sources":
            print("\n".join(f"  [{c.n}] {c.title}" for c in last.citations) if last and last.citations
                  else "The last answer cites no paper.")
        elif line:
            try:
                last = ask_turn(conversation, line) or last
            except UserError as e:
                print(f"error: {e}")


def ask_turn(conversation: Conversation, question: str) -> Answer | None:
    answer = None

    def events():
        nonlocal answer
        for event in conversation.stream(question):
            if isinstance(event, Resolved):
                if event.how != "standalone":
                    among = "; ".join(title for _, title in event.scope)
                    print(f"(answered as: {event.standalone}" + (f" — among: {among})" if among else ")"))
                continue
            if isinstance(event, Answer):
                answer = event
            yield event

    print_events(events())
    return answer


if __name__ == "__main__":
    run_cli(main)
