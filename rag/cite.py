"""Citations: which numbered source supports each sentence of an answer, and the exact title of source n.

Titles always come from the index, never from the model's text, so every cited title is a real corpus
title. A small model often forgets or misplaces its [n] markers, so `attribute` checks every sentence
against the evidence: a sentence cites the sources whose words it uses."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from rag.retrieve import RetrievedPaper

# Share of a sentence's content words that must occur in a source for the source to support it.
SUPPORT_MIN = 0.5
_STOPWORDS = set("""a about above after all also an and any are as at be been both but by can could did do does
done each either for from had has have how however i if in into is it its itself may more most much no not of
on one only or other our over per same so some such than that the their them then there these they this those
to up us very was we were what when where whether which while who whom why will with within would yes you""".split())
_WORD = re.compile(r"[a-z0-9]+(?:[.\-][a-z0-9]+)*")
# A sentence ends at . ! or ? unless the next word is plain lowercase or the dot ends vs. e.g. i.e. et al.
SENTENCE = re.compile(r"(?<=[.!?])(?<!\bvs\.)(?<!\b[eE]\.g\.)(?<!\b[iI]\.e\.)(?<!\bal\.)\s+(?=[^\sa-z]|[a-z]+[A-Z0-9])")

# [1], [1, 2], [1][2], [Source 1], [sources 1; 3]
MARKER = re.compile(r"\[\s*(?:sources?\s*)?(\d+(?:\s*[,;]\s*(?:sources?\s*)?\d+)*)\s*\]", re.IGNORECASE)


@dataclass(frozen=True)
class Citation:
    n: int
    title: str
    paper_id: str
    snippet: str
    score: float


@dataclass(frozen=True)
class Cited:
    text: str  # the answer with every marker normalized to [n] and unknown markers removed
    citations: list[Citation]  # in order of first mention
    dropped: int  # markers that pointed at no source


def resolve(text: str, sources: list[RetrievedPaper]) -> Cited:
    citations: dict[int, Citation] = {}
    dropped = 0

    def replace(match: re.Match) -> str:
        nonlocal dropped
        kept = []
        for number in (int(n) for n in re.findall(r"\d+", match.group(1))):
            if not 1 <= number <= len(sources):
                dropped += 1
                continue
            paper = sources[number - 1]
            citations.setdefault(number, Citation(number, paper.title, paper.paper_id,
                                                  paper.passages[0].text, paper.score))
            kept.append(f"[{number}]")
        return "".join(kept)

    cleaned = MARKER.sub(replace, text)
    cleaned = re.sub(r"[ \t]+([.,;:])", r"\1", cleaned).strip()  # no space left before punctuation
    return Cited(cleaned, list(citations.values()), dropped)


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def content_terms(text: str) -> set[str]:
    words = [w for w in _WORD.findall(MARKER.sub(" ", text).casefold()) if w not in _STOPWORDS]
    return set(_stemmer().stemWords(words))


def attribute(text: str, sources: list[RetrievedPaper]) -> Cited:
    """Each sentence cites the sources that support it (SUPPORT_MIN of its content words), preferring the
    markers the model wrote; sentences no source supports are dropped when any other sentence is supported."""
    source_terms = [content_terms(p.text) for p in sources]
    dropped = 0
    kept: list[str] = []
    for sentence in SENTENCE.split(text.strip()):
        marked = [int(n) for m in MARKER.finditer(sentence) for n in re.findall(r"\d+", m.group(1))]
        dropped += sum(not 1 <= n <= len(sources) for n in marked)
        bare = re.sub(r"\s+([.,;:!?])", r"\1", MARKER.sub("", sentence)).strip()
        terms = content_terms(bare)
        if not terms:
            continue
        support = [len(terms & st) / len(terms) for st in source_terms]
        chosen = [n for n in dict.fromkeys(marked) if 1 <= n <= len(sources) and support[n - 1] >= SUPPORT_MIN]
        best = max(range(len(sources)), key=support.__getitem__, default=None)
        if not chosen and best is not None and support[best] >= SUPPORT_MIN:
            chosen = [best + 1]
        markers = "".join(f"[{n}]" for n in chosen)
        end = bare[-1] if bare[-1] in ".!?" else ""
        kept.append(f"{bare[:len(bare) - len(end)].rstrip()} {markers}{end}" if markers else bare)
    supported = [k for k in kept if MARKER.search(k)]
    cited = resolve(" ".join(supported if supported else kept), sources)
    return Cited(cited.text, cited.citations, dropped)
