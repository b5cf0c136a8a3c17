"""Every prompt the product sends to an LLM, in one place."""

from __future__ import annotations

from langchain_core.prompts import ChatPromptTemplate

# The exact reply when the sources do not answer the question; tests and the abstention check use it.
REFUSAL = "I don't know: the retrieved papers do not answer this."

# Kept short and identical across calls, so llama.cpp reuses its cached prefix.
SYSTEM = (
    "Answer the question using only the numbered paper excerpts below. "
    "Write one to three sentences; after each statement put the number of the excerpt it comes from "
    "in brackets, like [2]. When the question asks which papers, state what each matching paper does, "
    f"each followed by its number. If the excerpts do not contain the answer, reply exactly: {REFUSAL}"
)

ANSWER = ChatPromptTemplate.from_messages([
    ("system", SYSTEM),
    ("human", "Sources:\n{sources}\n\nQuestion: {question}"),
])


def format_source(number: int, title: str, passages: list[str]) -> str:
    return f"[{number}] {title}\n" + "\n".join(passages)


# Follow-up questions ("which of those use LoRA?") are rewritten into one standalone question before
# retrieval (rag.conversation). The prompt carries only the last turns' questions and a short prefix of
# each answer: every prompt token costs time on a CPU.
CONDENSE = ChatPromptTemplate.from_messages([
    ("system", "Rewrite the follow-up question so that it makes sense without the conversation: replace words "
               "like those, it or they by what they refer to. Reply with the question only, ending with ?"),
    ("human", "Conversation:\n{history}\n\nFollow-up question: {question}\nStandalone question:"),
])
