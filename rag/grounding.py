"""Claim-level checks: each sentence of the model's answer is kept only when the sources it cites say
what it claims, and dropped with its reason otherwise.

- What a sentence repeats from the question is not a claim (a user who describes a paper gets an answer
  that restates the description); what it adds is, and a source must hold most of those words.
- Every number and every name (model, method, dataset) of a sentence must occur in the papers it cites,
  checked against their whole abstract: one paper's facts are never given to another, and a name the
  question asks about must belong to the cited paper.
- An answer that only says the excerpts lack the answer is a refusal, whatever its words.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from collections.abc import Iterable, Sequence, Set as AbstractSet
from dataclasses import dataclass

from rag.cite import Citation, resolve
from rag.prompts import REFUSAL
from rag.retrieve import RetrievedPaper
from rag.text import (ASKS_NAMES, OPENING, QUANTITY, asked_kinds, asked_part, content_terms, counted_nouns, counts,
                      counts_asked, figures, marker_numbers, name_after, names, names_near, names_what_is_asked,
                      numbers, occurs, quantities, sentences, spelled_out, spelling, states_quantity, strip_markers, urls,
                      without_urls, word_terms)

# Share of a sentence's claimed words that must occur in a source for the source to support it.
SUPPORT_MIN = 0.5

# How a model says the excerpts lack the answer, in its own words.
_REFUSAL_WORDS = re.compile(
    r"i don'?t know|(?:not|never) (?:mentioned|provided|stated|given|specified|available|included|found)"
    r"|do(?:es)? not (?:mention|state|provide|specify|contain|include|say)|(?:papers|excerpts|sources) do not answer|cannot (?:be )?(?:determined|answer)"
    r"|no (?:information|mention)", re.IGNORECASE)


# A sentence that ends where its answer should be, with a marker instead: "… were released in [1]."
_MARKER_AS_ANSWER = re.compile(r"\b(?:is|are|was|were|be|in|of|by|on|at|to|from|as|include|includes|including|"
                               r"called|named|like)\s*(?:\[[^\]]*\]\s*)+[.!?]?\s*$", re.IGNORECASE)


# Questions whose answer may only pick among the question's own words: yes/no, or a choice "X or Y".
_YES_NO = re.compile(r"^\W*(?:and\s+)?(?:is|are|was|were|do|does|did|can|could|has|have|had|should|will|would)\b",
                     re.IGNORECASE)
_CLOSED_QUESTION = re.compile(rf"{_YES_NO.pattern}|\bor\b", re.IGNORECASE)


@dataclass(frozen=True)
class Check:
    sentence: str  # the model's sentence, without its markers
    cites: list[int]  # the sources it cites once checked; empty when dropped
    dropped: str | None = None  # why it was left out of the answer
    restates: bool = False  # it adds no word to a closed question: a bare yes, no or choice


def only_says_yes_or_no(question: str, checks: list[Check]) -> bool:
    """An answer to a yes/no question whose kept sentences add nothing to it ("Yes, its approach beats subword
    tokenizers on perplexity"): the words are all supported, so nothing checks whether yes or no is right."""
    kept = [c for c in checks if not c.dropped]
    return bool(kept) and all(c.restates for c in kept) and asks_yes_or_no(question)


def asks_yes_or_no(question: str) -> bool:
    return _YES_NO.search(question) is not None and re.search(r"\bor\b", question, re.IGNORECASE) is None


@dataclass(frozen=True)
class Verified:
    text: str  # the kept sentences, each with its [n]
    citations: list[Citation]
    checks: list[Check]
    dropped_markers: int  # markers that pointed at no source


def is_refusal(answer: str) -> bool:
    return REFUSAL.casefold()[:20] in answer.casefold() or _REFUSAL_WORDS.search(answer) is not None


def starts_refusal(token: str) -> bool:
    """Whether a reply's first token is the refusal's ("I")."""
    return bool(token.strip()) and REFUSAL.startswith(token.strip())


def refusal_probability(first_token_top: list[tuple[str, float]]) -> float:
    """How likely the reply was to start the refusal, from its first token's likeliest alternatives."""
    return sum(p for token, p in first_token_top if starts_refusal(token))


def verify(answer: str, question: str, sources: list[RetrievedPaper], abstracts: list[str],
           rare: AbstractSet[str] = frozenset()) -> Verified:
    """Check each sentence of `answer`. `abstracts[i]` is the whole title and abstract of `sources[i]`; `rare` are
    the question's words that few papers of the corpus have (stemmed). A sentence cites the sources the model
    marked that support it, else the one source that supports it best; a sentence no source supports, with a
    number or name its sources lack, or that describes another source's paper, is dropped."""
    asked = content_terms(question)
    # a paper that spells out the question's acronym holds it ("word error rate" for "WER")
    rare_held = [rare & (word_terms(abstract) | spelled_out(question, abstract).keys()) if rare else set()
                 for abstract in abstracts]
    source_terms = [content_terms(p.text) for p in sources]
    abstract_terms = [content_terms(abstract) for abstract in abstracts]  # once, not per sentence
    checks: list[Check] = []
    kept: list[str] = []
    dropped_markers = 0
    line_starts = {found[0] for line in answer.splitlines() if (found := sentences(line))}
    subject: list[int] = []  # the sources the last kept sentence of this line cites: what "It" refers to
    for sentence in sentences(answer):
        if sentence in line_starts:  # a choice question's lines each answer of their own paper
            subject = []
        marked = marker_numbers(sentence)
        dropped_markers += sum(not 1 <= n <= len(sources) for n in marked)
        bare = without_preamble(strip_markers(sentence))  # "The excerpts report that" claims nothing
        terms = content_terms(bare)
        if not terms:
            continue
        if _MARKER_AS_ANSWER.search(sentence):  # "The six models used are [1]." answers nothing
            checks.append(Check(bare, [], "its answer is only a citation marker"))
            continue
        claimed = terms - asked
        if not claimed and not _CLOSED_QUESTION.search(question):  # a choice or yes/no answer may add no word
            checks.append(Check(bare, [], "it only restates the question"))
            continue
        restates = not claimed
        claimed = claimed or terms
        support = [len(claimed & st) / len(claimed) for st in source_terms]
        cites = [n for n in dict.fromkeys(marked) if 1 <= n <= len(sources) and support[n - 1] >= SUPPORT_MIN]
        best = max(range(len(sources)), key=support.__getitem__, default=None)
        if not cites and best is not None and support[best] >= SUPPORT_MIN:
            cites = [best + 1]
        if not cites and added_numbers(bare, question):
            # its words are few, so filler weighs ("saw approximately 0.31TB tokens": 1 of 3); its numbers decide,
            # each checked against a sentence of the source that shares a word with it
            holders = [n for n in range(1, len(sources) + 1) if missing_fact(bare, [n], abstracts, question) is None]
            if holders := [n for n in holders if n in marked] or holders:
                cites = [max(holders, key=lambda n: support[n - 1])]
        reason = missing_fact(bare, cites, abstracts, question) if cites else "no source says this"
        if reason:  # a sentence about two papers ("Both X and Y …") draws on both: cite every one it needs
            others = [n for n, terms_of_paper in enumerate(abstract_terms, start=1) if n not in cites
                      and len(claimed & terms_of_paper) / len(claimed) >= SUPPORT_MIN]
            if others and missing_fact(bare, cites + others, abstracts, question) is None:
                # the papers whose facts it states; with no number or name, those whose words it uses
                cites, reason = cites + ([n for n in others if holds_a_fact(bare, abstracts[n - 1])] or others), None
        reason = reason or described_elsewhere(bare, question, rare, cites, rare_held) or other_subject(
            bare, cites, subject)
        checks.append(Check(bare, [] if reason else cites, reason, restates))
        if not reason:
            kept.append(with_markers(bare, cites))
            subject = cites
    cited = resolve(" ".join(kept), sources)
    return Verified(cited.text, cited.citations, checks, dropped_markers)


# "It was evaluated on …", "Its accuracy …", "This model …": the subject is the previous sentence's.
_PRONOUN_SUBJECT = re.compile(r"^(?:(?:yes|no),?\s+)?(it|its|they|their|this\s+(?:model|method|paper|approach|work|"
                              r"system))\b", re.IGNORECASE)


def other_subject(sentence: str, cites: list[int], subject: list[int]) -> str | None:
    """For a sentence whose subject is a pronoun, citing none of the sources the sentence before it cites, a reason:
    "Yes, LSLM listens while speaking [1]. It was evaluated on universal speech benchmarks [2]." gives [2]'s
    evaluation to [1]'s model."""
    pronoun = _PRONOUN_SUBJECT.match(sentence)
    if not pronoun or not subject or set(cites) & set(subject):
        return None
    return f"its \"{pronoun.group(1)}\" is {bracketed(subject)}'s subject, but the sentence cites {bracketed(cites)}"


def added_numbers(sentence: str, question: str) -> list[str]:
    """The numbers of `sentence` that the question does not state: what it claims."""
    return [number for number in numbers(sentence) if not occurs(number, question)]


def missing_fact(sentence: str, cites: list[int], abstracts: list[str], question: str) -> str | None:
    """The first number or name of `sentence` that none of its cited papers contains, as a reason. A number
    counts only where a sentence of the paper also shares a word with it (a bare "30" with the question): "ROUGE-L
    of up to 4" is not supported by "4 languages". A short capitalized abbreviation the sentence repeats from the
    question may stand for a word of the paper ("language ID": identification); a metric the paper never names
    may not (BLEU)."""
    cited = "\n".join(abstracts[n - 1] for n in cites)
    support = without_urls(cited)  # a name or number inside a web address states nothing
    where = bracketed(cites)
    in_source = urls(cited)
    if unsupported := [url for url in urls(sentence) if url not in in_source]:
        return f"{unsupported[0]} is not in {where}"
    context = content_terms(sentence)
    if not context - set().union(*map(content_terms, numbers(sentence))):  # a bare value ("30") answers the question
        context = content_terms(question)
    for number in numbers(sentence):
        around = [s for s in sentences(support) if occurs(number, s)]
        if not around:
            return f"number {number} is not in {where}"
        if not any((content_terms(s) & context) - content_terms(number) for s in around):
            return f"number {number} is in {where}, but not about this"
        restated = occurs(number, question)  # "the 15B Nemotron" of the question is no claim of the answer
        if not restated and (other := said_of_others(number, sentence, support, [abstracts[n - 1] for n in cites])):
            return f"number {number} is in {where}, but not said of {' and '.join(other)}"
    for name in names(sentence):
        if not occurs(name, support) and not (occurs(name, question) and abbreviates(name, support)):
            return f"{name} is not in {where}"
    return miscounted(sentence, support, question, where)


def described_elsewhere(sentence: str, question: str, rare: AbstractSet[str], cites: list[int],
                        rare_held: list[set[str]]) -> str | None:
    """A sentence that repeats the question's description of a paper ("the hidden-transfer decoding method") while
    its cited papers hold none of the description's rare words, and another source holds some, gives that
    paper's subject a fact of another ("2.7x", from a paper on another decoding method). So does one whose cited
    papers hold fewer than half of them where another source holds more: "the hypernetwork approach for swapping a
    tokenizer for an arbitrary new one" is the paper holding all three words, not one holding "hypernetwork"."""
    restated = rare & word_terms(sentence)
    if not cites or not restated:  # citing none, it gives nothing
        return None
    held = [len(restated & paper) for paper in rare_held]
    cited, most = max(held[n - 1] for n in cites), max(held)
    if cited == most or 2 * cited >= len(restated):
        return None
    holders = bracketed(n for n, count in enumerate(held, start=1) if count == most)
    words = [w for w in dict.fromkeys(re.findall(r"[\w-]+", question)) if word_terms(w) & restated]
    verb = "describes" if len(words) == 1 else "describe"
    return f"the question's {', '.join(words)} {verb} {holders}, not {bracketed(cites)}"


def said_of_others(number: str, sentence: str, support: str, abstracts: list[str]) -> list[str]:
    """The names `sentence` says `number` is about that another figure of the same unit in the sources is said
    of, in a sentence that states more of them than any sentence with `number` does: "beat BERT-large by 28.8
    points on SuperGLUE" when the paper says "outperforms BERT-large by … 9.3 points on SuperGLUE" and "surpassing
    these by 28.8 … points on SuperGLUE" (a small model often takes the neighbouring figure). The papers' own names
    (in their titles) are left out: abstracts say "our method", not their name, next to their figures."""
    titles = "\n".join(abstract.split("\n", 1)[0] for abstract in abstracts)
    near = [name for name in names_near(number, sentence) if not occurs(name, titles)]
    in_support = [(s, figures(s)) for s in sentences(support)]
    holding = [s for s, _ in in_support if occurs(number, s)]
    # "… is 6.72." has no unit of its own: the source's ("6.72 PPL") is it
    unit = dict(figures(sentence)).get(number) or next((u for s in holding for n, u in figures(s) if n == number), "")
    if not near or not unit:
        return []
    rivals = [(s, [n for n, u in found if u == unit and n != number]) for s, found in in_support]
    rivals = [(s, others) for s, others in rivals if others]
    # "by 2.7 points on SuperGLUE" when the paper has "2.7 points on GLUE and 9.3 points on SuperGLUE"
    on = name_after(number, sentence)
    if on in near and all((after := name_after(number, s)) and not occurs(on, after) for s in holding) and any(
            (after := name_after(n, s)) and occurs(on, after) for s, others in rivals for n in others):
        return [on]

    def stated(s: str) -> list[str]:
        return [name for name in near if occurs(name, s)]

    best_with = max(map(stated, holding), key=len, default=[])
    best = max((stated(s) for s, _ in rivals), key=len, default=[])
    return [name for name in best if name not in best_with] if len(best) > len(best_with) else []


def miscounted(sentence: str, support: str, question: str, where: str) -> str | None:
    """For a "how many X" question, a sentence whose numbers count something else in the source: "four key
    aspects" does not say how many alignment algorithms, nor "7M Leaner-Instruct" that "7 languages" are covered.
    A bare number ("30") counts what the source says it counts ("30 prominent language models")."""
    asked = counted_nouns(question)
    stated = counts(_SCALE_WORDS.sub(_scaled, sentence))
    if not asked or not stated:
        return None
    in_source = [(_digits(n), *_amount(n, p)) for s in sentences(_SCALE_WORDS.sub(_scaled, support))
                 for n, p in counts(s)]
    for number, words in stated:
        value, phrase, _ = _amount(number, words)
        if any(v == value and counts_asked(p, asked) for _, v, p, _ in in_source):
            return None
        # Its own words may say what it counts, unless the source has that number at another scale ("7M") or
        # counting something else ("30 prominent language models"; a size is no count: "7B model" has 7B parameters)
        if counts_asked(phrase, asked) and not any(
                digits == _digits(number) and (v != value or p and not scaled)
                for digits, v, p, scaled in in_source):
            return None
    number, phrase = stated[0]
    return f"the question asks how many {' or '.join(asked)}; {where} gives {number} {' '.join(phrase)}".rstrip()


# Written onto a number, these change its value ("7M" is not 7, "180k" is 180,000); a word written onto it is what it
# counts ("6.3-point").
_SCALES = {"k": 3, "m": 6, "b": 9, "bn": 9, "t": 12}  # powers of ten
_UNITS = {"x", "%", "×"}
_SCALE_WORDS = re.compile(r"(\d)\s+(thousand|million|billion|trillion)\b", re.IGNORECASE)
_SCALE_LETTERS = {"thousand": "k", "million": "m", "billion": "b", "trillion": "t"}


def _digits(number: str) -> str:  # "7M": "7"
    return re.sub(r"[^\d.]", "", number) or number.casefold()


def _scaled(found: re.Match) -> str:  # "7 billion": "7b"
    return found.group(1) + _SCALE_LETTERS[found.group(2).casefold()]


def _amount(number: str, phrase: list[str]) -> tuple[tuple[str | Decimal, str], list[str], bool]:
    """A count as (value, unit), what it counts, and whether a scale letter was written onto it: "6.3-point" gain is
    (6.3, "") point gain; "7M" is (7000000, ""), scaled; "1.2.3" (a version) and "3-4" (a range) stay as written."""
    value, suffix = re.match(r"(\d[\d.,]*|\D+)[-\s]?(.*)$", number).groups()
    if re.search(r"\d", suffix):
        return (number.casefold(), ""), phrase, False
    value, suffix = value.replace(",", "").casefold(), suffix.casefold()
    amount: str | Decimal = value
    if value[0].isdigit():
        try:
            amount = Decimal(value).scaleb(_SCALES.get(suffix, 0)).normalize()
        except InvalidOperation:
            amount = number.casefold()
    if suffix in _SCALES or not suffix:
        return (amount, ""), phrase, bool(suffix)
    if suffix in _UNITS:
        return (amount, suffix), phrase, False
    return (amount, ""), [suffix, *phrase], False


def without_titles(text: str, titles: Sequence[str]) -> str:
    for title in titles:
        text = text.replace(title, " ")
    return text


def states_no_quantity(question: str, answer: str, titles: Sequence[str] = ()) -> str | None:
    """For a question that asks a quantity, an answer that states none of its own, as a reason: "There are
    collections of open-source implementations" does not say how many; "It took 770M parameters to distill the
    770M model" only gives back the question's number; the "Six" of a cited title ("MUSE: … Six-Way Evaluation")
    counts nothing."""
    asked = counted_nouns(question)
    answer = without_titles(strip_markers(answer), titles)
    if asked and not states_quantity(answer):
        return f"the question asks how many {' or '.join(asked)}; the answer states no number"
    quantity = QUANTITY.search(question)
    if quantity and not quantity.group(0).lower().startswith("which"):  # "which … higher" picks the question's own
        own = set(quantities(question))
        stated = quantities(answer)
        if stated and all(q in own for q in stated):
            return (f"the question asks {quantity.group(0).lower()}; the answer's only quantities "
                    f"({', '.join(dict.fromkeys(' '.join(q).strip() for q in stated))}) are the question's own")
    return None


def gives_nothing_asked(question: str, answer: str) -> str | None:
    """For a "when …?" question, an answer that states no time ("The code and models will be made open-source" for
    "when are they releasing the code?"); for one about a license, an answer that names none ("LI-DiT-10B will be
    available after further security checks"); as a reason."""
    return next((f"the question asks {kind.what}; the answer {kind.lacking}" for kind in asked_kinds(question)
                 if not kind.gives(answer)), None)


# "who wrote it?", "who are the authors of NV-Embed?": the answer is a name.
_ASKS_WHO = re.compile(rf"{OPENING}who\b", re.IGNORECASE)


def names_nothing(question: str, answer: str, titles: Sequence[str] = ()) -> str | None:
    """For a "which models / datasets / languages …" or a "who …?" question, an answer that names none the question
    and the cited `titles` do not ("WavLLM uses dual encoders" for "Which two encoders does WavLLM use?", "MUSE was
    written by the authors of the paper" for "who wrote it?"), as a reason."""
    asked = ASKS_NAMES.search(question) or _ASKS_WHO.search(asked_part(question))
    answer = without_titles(strip_markers(answer), titles)
    if asked and not names_what_is_asked(answer, question):
        return f"the question asks {asked.group(0).strip().lower()}; the answer names none"
    return None


def missing_names(question: str, sources: list[RetrievedPaper], abstracts: list[str]) -> dict[int, list[str]]:
    """For each source (numbered from 1), the question's names its abstract lacks and that are not another
    source's subject (in that paper's title): "does it compare against CLIP?" cannot be answered by a sentence of
    a paper that never names CLIP; "AST or SpQR?" names one paper each."""
    def mentions(name: str, text: str) -> bool:
        return occurs(name, text) or abbreviates(name, text)

    missing = {}
    for n, abstract in enumerate(abstracts, start=1):
        others = [p.title for m, p in enumerate(sources, start=1) if m != n]
        lacking = [name for name in names(question)
                   if not mentions(name, abstract) and not any(mentions(name, title) for title in others)]
        if lacking:
            missing[n] = lacking
    return missing


def lacks_names(lacking: dict[int, list[str]], cited: list[int]) -> str:
    """Why the cited sources cannot answer a question that names what they never mention, or ''."""
    where: dict[str, list[int]] = {}
    for n in dict.fromkeys(cited):
        for name in lacking.get(n, []):
            where.setdefault(name, []).append(n)
    return "; ".join(f"the question names {name}, which {bracketed(ns)} never "
                     f"mention{'s' if len(ns) == 1 else ''}" for name, ns in where.items())


def abbreviates(name: str, text: str) -> bool:
    """An upper-case name of two or three letters that starts a word of `text` (ID: identification) or whose
    letters start its consecutive words (LM: language model; ASR: automatic speech recognition)."""
    if not (name.isalpha() and name.isupper() and 2 <= len(name) <= 3):
        return False
    return re.search(rf"\b{name.lower()}[a-z]{{3,}}\b", text.lower()) is not None or spelling(name, text) is not None


def holds_a_fact(sentence: str, abstract: str) -> bool:
    return any(occurs(fact, abstract) for fact in numbers(sentence) + names(sentence))


# "The excerpts report that X …", "The excerpts report X" (asked prompts.OPTION_QUESTION), "According to the
# excerpts, X …", "According to [1], X" (markers stripped: "According to, X"), "Yes, [1] indicates that X": the
# answer is X (after a yes or no); the sources are its markers.
_SAYS = r"(?:report|state|say|show|mention|indicate)s?"
_PREAMBLE = re.compile(rf"^((?:yes|no),?\s+)?(?:the\s+(?:excerpts?|sources?)\s+{_SAYS}(?:\s+that)?|{_SAYS}\s+that|"
                       r"according\s+to(?:\s+the\s+(?:excerpts?|sources?)|(?:\s+and)?)\s*,)\s+", re.IGNORECASE)


def without_preamble(sentence: str) -> str:
    """`sentence` (its markers stripped) without a preamble about the excerpts."""
    match = _PREAMBLE.match(sentence)
    if not match:
        return sentence
    rest = sentence[match.end():]
    yes_no = match.group(1) or ""
    return yes_no + rest if yes_no else rest[:1].upper() + rest[1:]


def bracketed(numbers_of_sources: Iterable[int]) -> str:
    """Source numbers as citation markers: "[1][3]"."""
    return "".join(f"[{n}]" for n in numbers_of_sources)


def with_markers(sentence: str, cites: list[int]) -> str:
    markers = bracketed(cites)
    end = sentence[-1] if sentence[-1] in ".!?" else ""
    return f"{sentence[:len(sentence) - len(end)].rstrip()} {markers}{end}"
