"""Every prompt the product sends to an LLM, in one place: each a tuple of (role, template) messages, filled in
by `messages` through langchain-core's ChatPromptTemplate."""

from __future__ import annotations

import functools

# The exact reply when the sources do not answer the question; tests and the abstention check use it.
REFUSAL = "I don't know: the retrieved papers do not answer this."

# Kept identical across calls, so llama.cpp keeps it in its prompt cache. The model is not trusted with
# citations or refusals: rag.cite attributes each sentence to its sources and rag.grounding checks it.
SYSTEM = (
    "You answer questions about research papers using only the numbered excerpts. Answer in one or two "
    "sentences with the specific facts asked for (numbers, names, methods), and cite the excerpt number after "
    f"each fact, like [2]. If the excerpts do not state the answer, reply only: {REFUSAL}"
)

ANSWER = (
    ("system", SYSTEM),
    ("human", "Excerpts:\n{sources}\n\nQuestion: {question}"),
)

# The start of the model's reply when its refusal was unsure (settings.refusal_confidence): it then names the
# excerpt it answers from. Dev questions the model refused though the prompt held the answer (p_refusal < 0.5):
# 4 of 6 came out right this way ("According to [1], … a single GeForce RTX4090 GPU …"); the checks judge the rest.
ANSWER_PREFILL = "According to ["


# Added to a question that asks which models, datasets, languages …: asked "Which two encoders does WavLLM use?",
# the small model answered "WavLLM uses dual encoders"; with it, "a Whisper encoder and a WavLM encoder". On the
# 12 dev questions of that kind: 6 right without it, 7 with "Answer with the names." (bare names, some wrong), 8-9
# with this one.
NAMES_HINT = "Answer in one sentence that names them."

# One option of a choice question ("Which gives the larger speedup: Chimera or Token Recycling?"), asked of its
# own paper without naming the other: the small model compares poorly, but reads one paper's figure well. Asked
# "… Answer only for Token Recycling.", it refused or described both options.
OPTION_QUESTION = "{asked} — what do the excerpts report for {option}?"

# "Which papers ...?" questions: each candidate paper is judged on its own; the question comes first so
# the candidates of one question share a cached prefix.
JUDGE = (
    ("system", "You check whether a research paper matches a request, from its title and an excerpt. "
               "Reply yes or no."),
    ("human", "Request: {question}\n\nPaper: {title}\n{excerpt}\n\nDoes the paper match the request?"),
)


# When the model's answer cannot be verified, the evidence sentence closest to the question is judged on its
# own and, when it answers, quoted verbatim (rag.quote).
QUOTE_JUDGE = (
    ("system", "You check whether a sentence from a research paper answers a question. Reply yes or no."),
    ("human", "Question: {question}\n\nPaper: {title}\nSentence: {sentence}\n\nDoes the sentence answer the "
              "question?"),
)


def format_source(number: int, title: str, passages: list[str]) -> str:
    return f"[{number}] {title}\n" + "\n".join(passages)


# Follow-up questions ("which of those use LoRA?") are rewritten into one standalone question before
# retrieval (rag.conversation). The prompt carries only the last turns' questions and a short prefix of
# each answer: every prompt token costs time on a CPU.
CONDENSE = (
    ("system", "Rewrite the follow-up question so that it makes sense without the conversation: replace words "
               "like those, it or they by what they refer to. Reply with the question only, ending with ?"),
    ("human", "Conversation:\n{history}\n\nFollow-up question: {question}\nStandalone question:"),
)


def messages(template: tuple[tuple[str, str], ...], **values: str) -> list[dict]:
    """The OpenAI-style messages of `template` filled in with `values`."""
    from langchain_core.messages import convert_to_openai_messages

    return convert_to_openai_messages(_compiled(template).format_messages(**values))


@functools.cache
def _compiled(template: tuple[tuple[str, str], ...]):
    # langchain-core is imported when a prompt is first filled in: its ~0.4 s of imports would otherwise come
    # before the papers of every cold start, and a search needs no prompt.
    from langchain_core.prompts import ChatPromptTemplate

    return ChatPromptTemplate.from_messages(list(template))
