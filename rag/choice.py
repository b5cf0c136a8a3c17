"""Questions about two papers, "Which gives the larger speedup: Chimera or Token Recycling?", "Which benchmark do
NV-Embed and Mistral-SPLADE both report results on?" or "WECHSEL vs FOCUS: how many languages each?": each paper is
asked its own question, from the paper that best matches it, and the answer states both facts side by side. Asked
about two papers in one go, the small model gave one paper's figure or neither (multi-hop keyword accuracy 0.14 on
the test split); asked about one paper at a time it reads one paper, as it does for a factoid."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from rag.prompts import OPTION_QUESTION
from rag.retrieve import Filters, RetrievedPaper, Retriever
from rag.text import content_terms, numbers, occurs

# Content words an option needs to describe a paper when its title does not hold it ("the dynamic tokenization
# paper"); "GLUE" or "LoRA" name a thing, not a paper.
DESCRIPTION_TERMS = 3

# "Which …: A or B?", "which …, A or B?", "Which … — the X one, or the Y one?": a question that asks which,
# then two options after a colon, a dash or a comma.
_CHOICE = re.compile(r"^\W*(?P<asked>(?:which|who)\b.+?)\s*(?::|\s[\u2014\u2013-]\s|,)\s*(?P<first>.+?),?\s+or\s+"
                     r"(?P<second>[^?]+?)\s*\?*\s*$", re.IGNORECASE | re.DOTALL)

_SEPARATOR = r"(?::|\s[\u2014\u2013-]\s)"
_ASKS = r"(?:what|which|how|who|where|when)\b"
_PREPOSITION = r"(?:by|in|from|on|of|for|to|with)"
# "A vs B", "A versus B"; "Comparing A with B", "compare A and B" (the first joiner of these found, in this order:
# "the method that maps X to Y with the one that …").
_VERSUS = re.compile(r"\s+(?:vs\.?|versus)\s+", re.IGNORECASE)
_COMPARING = re.compile(r"^compar(?:e|ing)\s+(?P<pair>.+)$", re.IGNORECASE | re.DOTALL)
_COMPARE_JOINERS = (r"\s+with\s+", r"\s+against\s+", r"\s+to\s+", r"\s+and\s+")
# What a comparison's parts are split at: a colon or a dash between words, or the end of a sentence (not "vs.",
# "et al.", "e.g.", "i.e.").
_PARTS = re.compile(r"\s*(?::\s|(?<=[?!;])\s|(?<![Vv]s\.)(?<!al\.)(?<!\.[eg]\.)(?<=\.)\s|\s[\u2014\u2013-]\s)\s*")
# An option that opens with a preposition, "e.g." or an asking word is a use, a setting or a question, not a paper:
# "e.g. for telling sizes apart vs for telling a hippo from an elephant", "What is the trade-off between accuracy vs
# latency?".
_NOT_A_PAPER = rf"(?:{_PREPOSITION}|e\.g\.|i\.e\.|{_ASKS})\s"
# "… in each case?", "how many languages each?": what asks for both, said of one option.
_EACH = re.compile(r",?\s+(?:(?:in|for)\s+)?(?:each(?:\s+(?:case|one|paper))?|both|of\s+the\s+two)\s*\?*$",
                   re.IGNORECASE)
# "A and B are both about X - what … appears in both?", "Both A and B compare … - how small …?": the two papers,
# then what is asked of each after a colon or a dash.
_PAIR_FIRST = re.compile(rf"^\W*(?:both\s+)?(?P<pair>.+?)\s*{_SEPARATOR}\s*(?P<asked>{_ASKS}.+)$",
                         re.IGNORECASE | re.DOTALL)
# "What … is released by both A, and B?", "What model is used both by A and by B?": what is asked, then the papers.
_PAIR_LAST = re.compile(rf"^\W*(?P<head>{_ASKS}.+?)\s+both\s+(?P<pair>.+?)\s*\?*\s*$", re.IGNORECASE | re.DOTALL)
# "Which benchmark do A and B both report results on?": the papers between the verb and "both".
_PAIR_INSIDE = re.compile(rf"^\W*(?P<head>{_ASKS}.*?\b(?:do|does|did|are|were|is|was|have|has))\s+(?P<pair>.+?)\s+"
                          r"both\s+(?P<tail>[^?]+?)\s*\?*\s*$", re.IGNORECASE | re.DOTALL)

# "how many languages does each use", "what size does each one fit": the option in place of "each".
# Not "on each benchmark", "each of the speedups": only "each" as the subject, after its verb.
_EACH_ONE = re.compile(r"\b(?P<verb>does|do|did|is|was|has|have|are|were|can)\s+each(?:\s+(?:one|paper|model|method))?"
                       r"(?:\s+of\s+(?:them|the\s+two))?\b", re.IGNORECASE)
# "…: the X, and the Y.": two things named after a colon (not "the paper compares the encoder and the decoder").
_NAMED_PAIR = re.compile(r"^(?:the|a|an)\s.+?,\s+and\s+(?:the|a|an)\s", re.IGNORECASE | re.DOTALL)
# "which covers more low-resource languages", "which one has more parameters": a count, asked of each option.
# Not "which is more accurate", "which focuses more on speed", "which uses more data than the other" (not plural).
_MORE = re.compile(r"^which(?:\s+(?:one|paper|model|method))?\s+(?P<verb>has|uses|covers|supports|includes|evaluates|"
                   r"handles|needs|pits)\s+more\s+(?P<noun>(?!than\b)[\w-]+(?:\s+[\w-]+){0,2}?s)"
                   r"(?P<rest>\s+(?:against|in|on|for|across)\s[^,]+?)??(?:\s+than\s[^,]+)?$", re.IGNORECASE)
_SIZE = re.compile(r"^which(?:\s+(?:one|model|of\s+(?:them|the\s+two)))?\s+is\s+(?:the\s+)?(?:bigger|larger|smaller)"
                   r"(?:\s+(?:one|model))?(?:\s+in\s+(?:size|parameters))?$", re.IGNORECASE)
# "Two papers …: one trains on TTS audio, the other reads N-best lists": two papers the user describes, in an order of
# their own, which "the first" and "the second" follow. A description may hold a decimal ("reaches 2.7x").
_DESCRIBED = r"((?:[^,;.?]|\.(?=\d))+?)"
ONE_AND_OTHER = re.compile(rf"(?<!\bwhich\s)(?<!\bthe\s)\bone\s+(?!of\b){_DESCRIBED}\s*[,;]\s*"
                           rf"(?:and\s+|while\s+|whereas\s+)?the\s+other\s+(?:one\s+)?{_DESCRIBED}(?=[,;?]|\.(?!\d)|$)",
                           re.IGNORECASE)
# What the two are, before they are described: "two papers", "two of the speculative decoding papers", "two
# training-free ways"; not "two draft heads" of one paper.
_TWO_PAPERS = re.compile(r"\b(?:two|2|a\s+pair\s+of|a\s+couple\s+of)\s+(?:of\s+(?:the|these)\s+)?(?:[\w/-]+\s+){0,4}?"
                         r"(?:papers|works|studies|methods|approaches|ways|models|systems|techniques|frameworks)\b",
                         re.IGNORECASE)
# "… what are they called?", "which papers are these?": asks which papers they are (a list), not something of each.
_ASKS_THEIR_NAMES = re.compile(r"\b(?:called|titled|titles?|name\s+them|their\s+names)\b|\b(?:which|what)\s+"
                               r"(?:papers|ones)\b|\bwhat\s+are\s+(?:they|these|those)\W*$", re.IGNORECASE)
# "which … does the first report, and which … did the second extend?": one clause for each described paper.
_FIRST = re.compile(r"\bthe\s+first(?:\s+(?:one|paper))?\b", re.IGNORECASE)
_SECOND = re.compile(r"\bthe\s+(?:second|other|latter)(?:\s+(?:one|paper))?\b", re.IGNORECASE)
# "How many X does A …, compared with the number of Y over which B …?"
_COMPARED_TO = re.compile(rf"^\W*(?P<first>{_ASKS}[^?]+?),?\s+(?:compared|as\s+against)\s+(?:to|with)\s+"
                          r"(?P<second>the\s+(?:number|count|amount|size)\s+of\s+[^?]+?)\s*\?*\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Choice:
    options: tuple[str, str]  # ("Chimera", "Token Recycling")
    questions: tuple[str, str]  # what each option's paper is asked, without the other option


@dataclass(frozen=True)
class Option:
    text: str  # "Chimera"
    question: str  # what its paper is asked, in the user's words: the checks look for its names in the paper
    asked_as: str  # the question as the prompt puts it: a description replaced by the paper's name
    # What ranks the paper's sentences for the prompt: the question with "it" for a described option ("how many
    # languages does it use?"): the paper is chosen already, and its description picked the sentences that repeat
    # it. A name stays: "what criterion appears in OWSM-CTC?" finds CTC in the sentences that name it.
    asked_of_it: str
    query_vec: np.ndarray  # asked_of_it's embedding
    paper: RetrievedPaper


def choice(question: str) -> Choice | None:
    """The two papers a question asks about ("A or B", "both A and B", "A vs B") with each one's question, or None."""
    question = question.strip()
    # "Which is faster: A or B? Give both numbers.": the choice is the first question when the rest asks no other
    # ("… or B? And how much memory does each use?" is not one choice).
    first, rest = re.match(r"([^?]+\?)?(.*)$", question, re.DOTALL).groups()
    if match := _CHOICE.match(first if first and not re.search(rf"\?|\b{_ASKS}", rest, re.IGNORECASE) else question):
        if " or " in match["first"].casefold():
            return None
        options = tuple(_without_article(match[name]) for name in ("first", "second"))
        return _asked_of_each(match["asked"].strip(), options) if all(options) else None
    if re.search(r"\bboth\b", question, re.IGNORECASE):
        for pattern, build in ((_PAIR_FIRST, _asked_after), (_PAIR_INSIDE, _asked_around),
                               (_PAIR_LAST, _asked_before)):
            if (match := pattern.match(question)) and (found := build(match)):
                return found
    return _compared(question) or _against_a_count(question) or described_pair(question)


def described_pair(question: str) -> Choice | None:
    """"Two papers …: one trains on audio from TTS, the other gives an LLM N-best lists. What WER does the first
    report, and which dataset did the second extend?": each description with what is asked of it. Asked as one
    list, the small model was shown both papers' closest sentences and answered neither part."""
    match = ONE_AND_OTHER.search(question)
    if not match or not _TWO_PAPERS.search(question[:match.start()]):
        return None
    asking = [p.strip(" ?") for p in _PARTS.split(question)
              if re.match(_ASKS, p.strip(), re.IGNORECASE) and not ONE_AND_OTHER.search(p)]
    asked = " — ".join(asking)
    if not asked or _ASKS_THEIR_NAMES.search(asked):
        return None
    options = (match[1].strip(), match[2].strip())
    clauses = asking if len(asking) == 2 else re.split(rf",?\s+and\s+(?={_ASKS})", asked, maxsplit=1,
                                                       flags=re.IGNORECASE)
    if len(clauses) == 2 and _FIRST.search(clauses[0]) and _SECOND.search(clauses[1]):
        return Choice(options, (_FIRST.sub(options[0], clauses[0], count=1) + "?",
                                _SECOND.sub(options[1], clauses[1], count=1) + "?"))
    return _asked_of_each(asked, options)


def _against_a_count(question: str) -> Choice | None:
    """"How many criteria does HELM measure, compared to the number of properties MUSE checks?": two questions,
    each naming or describing its own paper ("how many properties MUSE checks?")."""
    match = _COMPARED_TO.match(question)
    if not match:
        return None
    second = re.sub(r"^(?:the\s+)?number\s+of\s+", "how many ", match["second"], flags=re.IGNORECASE)
    questions = (f"{match['first']}?", f"{second}?" if re.match(_ASKS, second, re.IGNORECASE) else f"what is {second}?")
    return Choice(tuple(q.rstrip("?") for q in questions), questions)


def _compared(question: str) -> Choice | None:
    """"compare coverage: A vs B. how many languages each?", "Comparing A with B — which is faster?": the part that
    holds the two options, and what the other parts ask ("how many languages" of each)."""
    parts = [p for p in _PARTS.split(question) if p.strip(" ?.")]
    # "Two papers fit one GPU: A, and B. What model size does each fit?": the pair is a part that names two things,
    # when another part asks something of each.
    asks_each = any(re.match(_ASKS, p, re.IGNORECASE) and _EACH_ONE.search(p) for p in parts)
    after_colon = {p for p in parts if re.search(rf":\s*{re.escape(p.strip()[:40])}", question)}
    for n, part in enumerate(parts):
        comparing = _COMPARING.match(part)
        pair_text = comparing["pair"] if comparing else part
        if _VERSUS.search(pair_text):
            pair = _VERSUS.split(pair_text)
        elif comparing:
            pair = next((found for joiner in _COMPARE_JOINERS if (found := _split_pair(pair_text, joiner))), None)
        elif asks_each and part in after_colon and _NAMED_PAIR.match(part):
            pair = _split_pair(part.strip(" ?."))
        else:
            pair = None
        if pair is None or len(pair) != 2:
            continue
        rest = parts[:n] + parts[n + 1:]
        asking = [p for p in rest if re.match(_ASKS, p, re.IGNORECASE)] or rest
        asked = " — ".join(p.strip(" ?") for p in asking)
        asked = (asked if _EACH_ONE.search(asked) else _EACH.sub("", asked)).strip()
        options = tuple(_without_article(o.strip(" ?.,")) for o in pair)
        if not asked or not all(options) or any(re.match(_NOT_A_PAPER, o, re.IGNORECASE) for o in options):
            return None
        return _asked_of_each(asked, options)
    return None


def _asked_after(match: re.Match) -> Choice | None:
    """"A and B are both about X - what appears in both?": "what appears in A?"; "how small are they?": "how small
    are they — what do the excerpts report for A?"."""
    pair = _split_pair(re.split(r"\s+(?:(?:are|were|is)\s+)?both\b", match["pair"], flags=re.IGNORECASE)[0])
    asked = match["asked"].strip().rstrip("?")
    if not pair:
        return None
    if re.search(r"\bboth\b", asked, re.IGNORECASE):
        return Choice(pair, tuple(re.sub(r"\bboth\b", o, asked, count=1, flags=re.IGNORECASE) + "?" for o in pair))
    return _asked_of_each(asked, pair)


def _asked_of_each(asked: str, options: tuple[str, str]) -> Choice:
    """What is asked, of one option: "how many languages does each use": "how many languages does WECHSEL use?";
    "which covers more languages": "how many languages does WECHSEL cover?"; else "Which gives the larger speedup —
    what do the excerpts report for Chimera?". Asked "which covers more … — what do the excerpts report for X?", the
    model compared X with MT models instead of counting."""
    return Choice(options, tuple(_of_one(asked, o) for o in options))


def _of_one(asked: str, option: str) -> str:
    if _EACH_ONE.search(asked):
        return _EACH_ONE.sub(lambda found: f"{found['verb']} {option}", asked) + "?"
    if more := _MORE.match(asked):
        verb = "have" if more["verb"].casefold() == "has" else more["verb"][:-1]
        return f"how many {more['noun']} does {option} {verb}{more['rest'] or ''}?"
    if _SIZE.match(asked):
        return f"how large is {option}?"
    return OPTION_QUESTION.format(asked=asked, option=option)


def _asked_around(match: re.Match) -> Choice | None:
    """"Which benchmark do A and B both report results on?": "Which benchmark do A report results on?"."""
    pair = _split_pair(match["pair"])
    return Choice(pair, tuple(f"{match['head']} {o} {match['tail']}?" for o in pair)) if pair else None


def _asked_before(match: re.Match) -> Choice | None:
    """"What model is used both by A and by B?": "What model is used by A?"."""
    pair = _split_pair(match["pair"])
    lead = re.match(rf"{_PREPOSITION}\s+", match["pair"], re.IGNORECASE)
    head = f"{match['head']} {lead.group(0).strip()}" if lead else match["head"]
    return Choice(pair, tuple(f"{head} {o}?" for o in pair)) if pair else None


def _split_pair(text: str, joiner: str = r"\s+and\s+") -> tuple[str, str] | None:
    """"A, and B" or "A and B" (at the first `joiner` outside brackets: a description may hold its own "and"), each
    without a leading preposition or article: ("the work on X", "the work that adds Y")."""
    parts = re.split(r",\s+and\s+", text, maxsplit=1) if joiner == r"\s+and\s+" else [text]
    if len(parts) == 1:
        depth = 0
        for found in re.finditer(rf"[()]|{joiner}", text):
            depth += {"(": 1, ")": -1}.get(found.group(0), 0)
            if found.group(0) not in "()" and depth == 0:
                parts = [text[:found.start()], text[found.end():]]
                break
    if len(parts) != 2:
        return None
    pair = tuple(_without_article(re.sub(rf"^{_PREPOSITION}\s+", "", p.strip(), flags=re.IGNORECASE)) for p in parts)
    return pair if all(pair) and pair[0].casefold() != pair[1].casefold() else None


def _without_article(text: str) -> str:
    return re.sub(r"^(?:the|a|an)\s+", "", text.strip(), flags=re.IGNORECASE)


def option_papers(asked: Choice, retriever: Retriever, scope: list[str] | None, filters: Filters | None
                  ) -> list[Option] | None:
    """Each option with the paper its own words find ("Token Recycling"; what is asked would find any paper on
    speedups); None when two options point to the same paper ("did they use LoRA or full fine-tuning?" of one
    paper), or an option is neither in its paper's title nor a description of one ("GLUE or SuperGLUE" are
    benchmarks, not papers)."""
    options = []
    for text, question in zip(asked.options, asked.questions):
        found = retriever.search(text, 1, papers=scope, filters=filters).papers
        named = bool(found) and occurs(text, found[0].title)
        if not found or not (named or len(content_terms(text)) >= DESCRIPTION_TERMS):
            return None
        paper, asked_as, asked_of_it = found[0], question, question
        own_question = text == question.rstrip("?")  # asked as it is: "how many properties MUSE checks?"
        if not own_question and not named:
            asked_of_it = _in_place_of(text, "it", question)
            if not numbers(text):
                # The description found the paper; the prompt names it. Asked "which is faster — what do the
                # excerpts report for the one whose draft model captures short-range dependencies?", the evidence
                # was the sentences that repeat the description, and the model repeated it too. A number stays:
                # "the 7B Large Concept Model" is one of the paper's models, and the paper's name alone got another
                # one's figure. (Names do not: "LLM", "MT" or "AST" describe as often as they qualify; dev w15 and
                # v14 need the name.)
                asked_as = _in_place_of(text, paper.title.split(":")[0].strip(), question)
        options.append(Option(text, question, asked_as, asked_of_it, retriever.embedder.embed([asked_of_it])[0], paper))
    return options if len({o.paper.paper_id for o in options}) == len(options) else None


def _in_place_of(option: str, words: str, question: str) -> str:
    """The option's question with `words` for the option as a whole word ("BERT", not the "bert" of "mBERT")."""
    return re.sub(rf"(?<!\w){re.escape(option)}(?!\w)", lambda _: words, question)
