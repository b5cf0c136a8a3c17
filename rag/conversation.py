"""Conversations: each new question is resolved against what the conversation knows before the LLM is asked.

- A question that refers back is scoped to papers the conversation showed: "which of those use LoRA?" judges
  only the papers of the last list; "how was it evaluated?" is answered from the previous answer's paper,
  "the second one" or "the speech one" from that paper of the last list.
- A question that stands on its own is answered as it is: no LLM call, and no old topic dragged in.
- An elliptical follow-up ("what about German?") is rewritten by one short LLM call: the fallback.

The browser chat, the `/chat` API, the terminal chat and the eval all go through `Conversation`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Iterator, Literal

from rag import prompts
from rag.backends import Usage
from rag.choice import ONE_AND_OTHER, described_pair
from rag.evidence import about, names_paper
from rag.listing import asks_which_paper, is_list_question
from rag.pipeline import Answer, Found, Pipeline, Sources, Token, clean_question
from rag.retrieve import Filters
from rag.text import MARKER, content_terms, occurs

HISTORY_TURNS = 2  # turns of the conversation shown to the rewriter
ANSWER_PREFIX_CHARS = 160  # of each answer, in the rewrite prompt
MAX_REWRITE_TOKENS = 60
MAX_REWRITE_CHARS = 400  # longer replies are not a question: keep the user's own words
DESCRIPTION_MARGIN = 0.05  # cosine by which a paper outside the previous answer must match a description better

How = Literal["standalone", "switched", "narrowed", "among", "subject", "position", "description", "rewritten"]

_KINDS = r"(?:papers|ones|works|studies|models|methods|approaches|reviews|surveys)"
# "those", "them", "the above", "the vocabulary papers": the papers of the previous answer.
_SET = rf"(?:those|these|them|the above|the\s+(?:[\w-]+\s+){{0,3}}?{_KINDS})(?:\s+{_KINDS})?"
# A ranking asks to compare the papers, not to judge each one: "which of those is fastest?", "which of them has more
# parameters?" ("more than 7B parameters" is a filter: it is judged).
_COMPARES = (r"\b(?:(?:best|worst|most|least|fastest|slowest|largest|smallest|biggest|highest|lowest|cheapest|newest|"
             r"oldest|top)\b|(?:better|worse|faster|slower|more|less|fewer|higher|lower|larger|smaller|bigger|greater|"
             r"longer|shorter|newer|older)\b(?!\s+than\b))")
# "which of those use LoRA?", "do any of them report LLaMA results?": the previous papers, judged again.
_NARROW = re.compile(rf"\b(?:which|what|any|all|how many|none)\s+(?:\w+\s+)?of\s+{_SET}\b(?!.*{_COMPARES})",
                     re.IGNORECASE)
# Words a follow-up may open with: "ok, which of those …", "thanks! and which ones …".
_LEAD_WORDS = r"ok(?:ay)?|great|thanks|thank you|cool|nice|and|so|now|then|also|well"
_COUNT = r"(?:two|three|four|five)"
_PREVIOUS = rf"(?:{_SET}|the\s+{_COUNT}|both)(?:\s+{_COUNT})?"
# "of those, which use LoRA?", "among the speech papers, which report WER?": the previous papers, judged again.
_OF_PREVIOUS = re.compile(rf"^\W*(?:(?:{_LEAD_WORDS})\W+)*(?:of|between|among(?:st)?)\s+(?P<set>{_PREVIOUS})\s*,?\s*"
                          r"(?=(?:which|who|what)\b)", re.IGNORECASE)
# "of those two, which one needs no parallel data?", "between them, who reports more?", "which of those is fastest?":
# one answer read from the previous papers together, not each paper judged on its own.
_ONE_OF = re.compile(rf"^(?:(?:which|what)\s+one\b|who\b)|.*{_COMPARES}", re.IGNORECASE)
_RANKS = re.compile(rf"^\W*(?:(?:{_LEAD_WORDS})\W+)*which\s+(?:one\s+)?of\s+{_PREVIOUS}\b(?=.*{_COMPARES})",
                    re.IGNORECASE)
_FIRST_WHICH = re.compile(r"\bwhich(?:\s+ones\b)?", re.IGNORECASE)  # "which use LoRA?" -> "which papers use LoRA?"
_THOSE = re.compile(rf"\b(?:those|these|them|the above|the {_COUNT})(?:\s+(?:{_COUNT}|papers|ones))?\b", re.IGNORECASE)
# What may come before "which of those": nothing that "those" could point to instead ("how many algorithms did they
# test, and how many of those …" counts algorithms).
_NARROW_LEAD = re.compile(rf"^\W*(?:(?:{_LEAD_WORDS}|do|does|did|are|were|is|can|could)\W+)*$", re.IGNORECASE)
# "Going back to the Mistral papers: which of them …?": the earlier list those words name, narrowed.
_BACK_TO = re.compile(rf"^\W*(?:(?:{_LEAD_WORDS})\W+)*(?:(?:going|coming|getting|let's go|let me go)\s+)?back\s+to\s+"
                      r"(?P<set>[^:,;?—–]+?)\s*[:,;—–]\s*", re.IGNORECASE)
# "which ones use LoRA?", "and which deal with audio?": a bare "which" and a verb right after a list judges that list
# ("which does it compare against?" asks about a paper: a pronoun after the verb is no list).
_WHICH_ONES = re.compile(rf"^\W*(?:(?:{_LEAD_WORDS})\W+)*which\s+(?:ones\b|(?=(?:(?:are|were|do|does|did|have|has)"
                         r"(?!\s+(?:it|its|they|their|you|we|the|this|that|these|those)\b)|use|uses|used|deal|deals|"
                         r"report|reports|focus|focuses|target|targets|work|works|apply|applies|propose|proposes|"
                         r"study|studies|handle|handles|support|supports|include|includes|generate|generates|produce|"
                         r"produces|output|outputs|compare|compares|evaluate|evaluates|train|trains|need|needs|"
                         r"require|requires|rely|relies|run|runs|address|addresses|involve|involves|mention|mentions|"
                         rf"cover|covers|actually|also|only)\b))(?!.*{_COMPARES})", re.IGNORECASE)
# When the conversation has shown only one paper, "the methods" and "these models" are things within it; "those" is
# still that paper.
_WITHIN = re.compile(r"(?:of\s+)?(?:the|these|those)\s+(?:[\w-]+\s+){0,3}?(?:models|methods|approaches)",
                     re.IGNORECASE)
_KIND_TERMS = content_terms(re.sub(r"\W+", " ", _KINDS))  # "the reviews" names a kind of paper, not a topic
_NARROW_SET = re.compile(rf"\b(?:of\s+)?{_SET}\b", re.IGNORECASE)  # "of those" -> "papers" in the question
_ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4, "fifth": 5,
             "5th": 5, "last": -1}
_POSITION = re.compile(rf"\b(?:the\s+)?({'|'.join(_ORDINALS)})\s+(?:one|paper|work|study|model|method|result)\b"
                       r"|\b(?:paper|source|number|no\.?)\s*#?\[?(\d+)\]?(?!\w)|(?<!\w)#(\d+)\b|^\s*\[(\d+)\]",
                       re.IGNORECASE)
# Words that ask about several papers at once: "what do they all have in common?", "how does it compare with …?"
_ALL_OF_THEM = re.compile(r"\b(?:all|both|each|every|common|compare|compared|comparison|differ|differs|difference|"
                          r"differences|together)\b", re.IGNORECASE)
# "and the other one: what's its trick?": of a list of two, the paper the last turn was not about.
_OTHER = re.compile(r"\bthe\s+other\s+(?:one|paper|work|study|model|method|approach)\b", re.IGNORECASE)
# Words after "the" that point at no paper by its content: "the same one", "the second one", "the new one".
_NOT_DESCRIBING = r"same|whole|other|first|second|third|fourth|fifth|last|new|next|previous"
# "the speech one", "the one about quantization", "the quantization paper": one of the previous papers.
_DESCRIPTION = re.compile(rf"\bthe\s+one\s+\w|\bthe\s+(?!(?:{_NOT_DESCRIBING})\b)[\w/-]+(?:\s+[\w/-]+){{0,2}}\s+one\b",
                          re.IGNORECASE)


def _leading(words: str, not_first: str) -> re.Pattern:
    """'the <words>:' (or ',', '—', ' - ') opening a question; `words` is the regex count of the words after the
    first one, which is none of `not_first`."""
    return re.compile(rf"^\W*(?:and\s+)?the\s+(?!(?:{_NOT_DESCRIBING}|one|results?|authors?{not_first})\b)"
                      rf"([\w/-]+(?:\s+[\w/-]+){{{words}}})\s*(?:[:,–—]|\s-\s)", re.IGNORECASE)


# "the survey: what does it propose?": a paper of the last list named by words that only its title has ("the
# model:" is the paper just discussed).
_LEADING_NAME = _leading("0,2", "|paper|model|method")
# "and the compressor built specifically for MoE models, how much accuracy does it lose?": a longer description
# before the question, matched like "the speech one".
_LEADING_DESCRIPTION = _leading("2,7", "")
_CLAUSE_MARKS = (":", ";", ",", "?", "!", ". ", "—", "–", " - ")
_POINTER_WORDS = re.compile(r"\b(?:and|the|one|ones|for|about)\b", re.IGNORECASE)

# The subject of the previous answer: "it", "its", "this paper", "that model", "they", "the authors".
# A bare "the model" refers back, "the model that reads charts" does not; "did that take?" does too. "Its own"
# points inside the question ("the co-design that gives each block its own number format").
_SUBJECT = re.compile(r"\b(?:this|that)\b(?=\s+(?:take|took|need|needed|cost|require|required|use|used|work|"
                      r"worked|mean|show|showed)\b|\s*[?.!]?\s*$)|\b(?:it|its(?!\s+own\b)|it's|they|"
                      r"their(?!\s+own\b)|them|the authors|(?:this|that|the same)\s+(?:paper|work|study|"
                      r"model|method|approach|system|benchmark|dataset|framework|one)|the\s+(?:paper|work|study|model|"
                      r"method|approach|system|benchmark|dataset|framework)(?!\s+(?:that|which|who|with|for|on|about|"
                      r"from|in|of|where|whose|called|named|by|to)\b))\b", re.IGNORECASE)
# A subject the question describes itself, before its "its": "what accuracy did the approach that classifies tables
# reach on its tests?" asks about that approach, not the previous answer's paper.
_THING = (r"(?:paper|study|model|method|approach|system|benchmark|dataset|framework|technique|architecture|scheme|"
          r"trick|algorithm)")
_OWN_SUBJECT = re.compile(rf"\bthe\s+(?:[\w-]+\s+){{0,2}}(?:work|{_THING})s?\s+(?:that|which|where|whose)\b",
                          re.IGNORECASE)
# "the hidden transfer decoding method": a subject named by the words before the kind of thing it is; not one it is
# compared with ("better than the one-shot SparseGPT method"), nor "work" ("how does the calibration step work?").
_NAMED_SUBJECT = re.compile(rf"(?<!\bthan\s)(?<!\bvs\s)(?<!\bvs\.\s)(?<!\bwith\s)(?<!\bover\s)(?<!\blike\s)"
                            rf"\bthe\s+((?:[\w-]+\s+){{1,3}}){_THING}s?\b", re.IGNORECASE)
# Fragments that only make sense after the last question: "what about German?", "and for code?", "why?"
_ELLIPSIS = re.compile(r"^\s*(?:what about|how about|and (?:for|in|on|with|what|how)|same (?:for|with)|"
                       r"what else|why|how come)\b", re.IGNORECASE)

# A question that opens a topic of its own: its pronouns point inside it.
_NEW_TOPIC = re.compile(r"^\W*(?:and\s+)?(?:is|are)\s+there\b", re.IGNORECASE)
# "Switching topics: when an LLM corrects transcripts, how do they …": the user says the question is a new one.
_SWITCH = re.compile(r"^\W*(?:ok(?:ay)?\W+)?(?:switching (?:topics?|gears|subjects?)|chang(?:e|ing) (?:of )?(?:the )?"
                     r"(?:topic|subject)|(?:an?\s+)?(?:different|new|unrelated|separate|other) (?:question|topic)|"
                     r"unrelated|on (?:a different|another) (?:note|topic))\s*[:.,;!—–-]\W*", re.IGNORECASE)

_LABEL = re.compile(r"^(?:standalone|rewritten|reformulated)?\s*(?:follow-up\s*)?question\s*:\s*", re.IGNORECASE)


@dataclass
class Turn:
    question: str  # as the user asked it
    standalone: str  # the question that was answered
    how: How  # how the question was resolved
    papers: list[tuple[str, str]]  # (paper id, title) the answer cites, in its order; else the scope it had
    answer: str  # the answer text


@dataclass(frozen=True)
class Resolved:
    """First event of every conversation turn: what will be answered, and among which papers."""
    question: str
    standalone: str
    how: How
    scope: list[tuple[str, str]] = field(default_factory=list)  # (paper id, title); empty: the whole corpus
    listing: bool | None = None  # True: judge each paper of the scope; None: decided by the question

    @property
    def scope_ids(self) -> list[str] | None:
        return [pid for pid, _ in self.scope] if self.scope else None


def _narrows(question: str) -> bool:
    """Whether the question opens by narrowing the previous papers: "which of those use LoRA?"."""
    match = _NARROW.search(question)
    return match is not None and _NARROW_LEAD.match(question[:match.start()]) is not None


def description(question: str, match: re.Match) -> str:
    """What describes the paper in `question`, given its `_DESCRIPTION` match: "the speech one" -> "speech"; "and
    the one aimed at noisy conditions, how large is its gain?" -> "aimed at noisy conditions". What is asked about
    the paper matched other papers ("FLOPs reduction" pulled in a paper on training budgets), and so did "one"
    ("One QuantLLM for ALL")."""
    words = match.group(0)
    if re.match(r"the\s+one\b", words, re.IGNORECASE):  # the description follows, up to the clause's end
        ends = [i for mark in _CLAUSE_MARKS if (i := question.find(mark, match.end())) >= 0]
        words = question[match.start():min(ends, default=len(question))]
    return " ".join(_POINTER_WORDS.sub(" ", words).split()) or question


def compact(text: str, limit: int = ANSWER_PREFIX_CHARS) -> str:
    """The start of an answer without citation markers, cut at a word boundary."""
    text = re.sub(r"\s+([.,;:])", r"\1", " ".join(MARKER.sub("", text).split()))
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


def format_history(turns: list[Turn]) -> str:
    lines = []
    for turn in turns[-HISTORY_TURNS:]:
        words = compact(turn.answer)
        if turn.papers and len(words) < 80:  # bare markers or a list of papers: the titles say more
            words = compact(f"{words} Papers: {'; '.join(t for _, t in turn.papers)}".strip())
        lines += [f"User: {turn.standalone}", f"Assistant: {words}"]
    return "\n".join(lines)


def build_rewrite_messages(turns: list[Turn], question: str) -> list[dict]:
    return prompts.messages(prompts.CONDENSE, history=format_history(turns), question=question)


def clean_rewrite(reply: str, question: str) -> str:
    """The rewritten question from the model's reply; the original question when the reply is unusable."""
    line = next((line for line in reply.strip().splitlines() if line.strip()), "")
    line = _LABEL.sub("", line.strip()).strip().strip("\"'`“”*").strip()
    return line if line and len(line) <= MAX_REWRITE_CHARS else question


class Conversation:
    """The turns of one conversation, and how each new question is resolved against them."""

    def __init__(self, pipeline: Pipeline, turns: list[Turn] | None = None, filters: Filters | None = None):
        self.pipeline = pipeline
        self.turns: list[Turn] = list(turns or [])
        self.filters = filters  # the sources and dates every question of this conversation is limited to

    def resolve(self, question: str, rewrite: bool = True) -> Resolved:
        """What to answer for `question`, and among which papers. `rewrite=False`: never call the LLM."""
        turns = self.topic_turns()
        previous = next((t.papers for t in reversed(turns) if t.papers), [])
        # "the second one", "the one about speech": a paper of the last list the user saw, even after a turn
        # about one of them ("and the other one?"); a list that found one paper is the last list too
        list_turn = next((t for t in reversed(turns) if len(t.papers) > 1 or (
            t.papers and t.how in ("standalone", "switched") and is_list_question(t.standalone))), None)
        listed = list_turn.papers if list_turn else previous
        if not turns or described_pair(question):  # "two papers …: one …, the other …" describes its own papers
            return Resolved(question, question, "standalone")
        if (switch := _SWITCH.match(question)) and question[switch.end():].strip():
            return Resolved(question, question[switch.end():], "switched")
        of_previous = _OF_PREVIOUS.match(question) if len(listed) > 1 else None
        if of_previous and not _ONE_OF.match(rest := question[of_previous.end():]):
            return Resolved(question, _FIRST_WHICH.sub("which papers", rest, count=1), "narrowed",
                            self._named_list(of_previous["set"]) or listed, listing=True)
        if of_previous or (len(listed) > 1 and _RANKS.match(question)):
            return Resolved(question, _THOSE.sub("these papers", question, count=1), "among", listed, listing=False)
        back = _BACK_TO.match(question) if listed else None
        if back and (_narrows(rest := question[back.end():]) or _WHICH_ONES.match(rest)):
            standalone = (_NARROW_SET.sub("papers", rest) if _narrows(rest)
                          else _FIRST_WHICH.sub("which papers", rest, count=1))
            return Resolved(question, standalone, "narrowed", self._named_list(back["set"]) or listed, listing=True)
        if len(listed) == 1 and _narrows(question) and _WITHIN.fullmatch(_NARROW_SET.search(question).group(0)):
            return self._about(question, listed[0], "subject")  # "how many of the methods …" of the one paper
        if listed and _narrows(question):  # "those": the last list, also after a turn about one of them
            return Resolved(question, _NARROW_SET.sub("papers", question), "narrowed",
                            self._named_list(_NARROW_SET.search(question).group(0)) or listed, listing=True)
        if len(listed) > 1 and _WHICH_ONES.match(question):
            # "and which ones …" after "which of those …" asks of the same papers as that turn did: the list it
            # narrowed; "which also …" narrows further
            base = listed if re.search(r"\balso\b", question, re.IGNORECASE) else next(
                (t.papers for t in reversed(turns) if len(t.papers) > 1 and t.how != "narrowed"), listed)
            standalone = _FIRST_WHICH.sub("which papers", question, count=1)
            return Resolved(question, standalone, "narrowed", base, listing=True)
        # "the other one": of a list of two, or of the only two papers the conversation has shown (a list of one,
        # then a paper it missed)
        shown = list(dict.fromkeys(paper for turn in turns for paper in turn.papers))
        pair = listed if len(listed) == 2 else shown
        if len(pair) == 2 and len(previous) == 1 and previous[0] in pair and _OTHER.search(question):
            paper = next(p for p in pair if p != previous[0])
            if _ALL_OF_THEM.search(question) or re.search(r"\bthis one\b|\bthan\b", question, re.IGNORECASE):
                return Resolved(question, question, "position", [previous[0], paper])  # "how does it compare …?"
            return self._about(question, paper, "position")
        if list_turn and len(previous) == 1 and _OTHER.search(question) and (
                paper := self._other(question, previous[0], listed, list_turn)):
            return self._about(question, paper, "position")
        if listed and (match := _POSITION.search(question)):
            number = next(int(g) if g.isdigit() else _ORDINALS[g.casefold()] for g in match.groups() if g)
            if -len(listed) <= number <= len(listed) and number:
                paper = listed[number - 1] if number > 0 else listed[-1]
                if list_turn and number in (1, 2) and (described := ONE_AND_OTHER.search(list_turn.question)):
                    # the user's own order: "two papers: one argues …, the other is …", then "the first one"
                    paper = self._described(described[number], listed, list_turn)
                return self._about(question, paper, "position")
        if listed and (match := _DESCRIPTION.search(question)):
            return self._about(question, self._described(description(question, match), listed, list_turn),
                               "description")
        if listed and (match := _LEADING_NAME.match(question)) and len(
                named := self._holding(match.group(1), listed, titles_only=True)) == 1:
            return self._about(question, named[0], "description")
        if listed and (match := _LEADING_DESCRIPTION.match(question)) and not _SUBJECT.search(match.group(1)):
            return self._about(question, self._described(match.group(1), listed, list_turn), "description")
        if _NEW_TOPIC.search(question) or is_list_question(question):  # "are there models for X? what sizes do they…"
            return Resolved(question, question, "standalone")
        if previous and (pointer := _SUBJECT.search(question)) and not _OWN_SUBJECT.search(
                question, 0, pointer.start()) and not self._names_another(question[:pointer.start()], previous):
            # "they" after a list is its papers; after "is there a way to …?" it is the paper found (listed first),
            # unless the question asks about them all ("what do they have in common?")
            identified = not _ALL_OF_THEM.search(question) and next(
                (asks_which_paper(t.standalone) for t in reversed(turns) if t.papers), False)
            if len(previous) == 1 or identified or not re.search(r"\b(?:they|their|them)\b", question, re.IGNORECASE):
                return self._about(question, previous[0], "subject")
            return Resolved(question, question, "subject", previous)
        if rewrite and (_ELLIPSIS.search(question) or len(question.split()) <= 2):
            return Resolved(question, self.rewrite(question), "rewritten")
        return Resolved(question, question, "standalone")

    def _names_another(self, words: str, previous: list[tuple[str, str]]) -> bool:
        """Whether `words` (a question before its "it") name a subject of their own by two or more words the previous
        papers' abstracts lack: "what does the hidden transfer decoding method actually transfer, and which methods
        does it beat?" after a turn about vocabulary trimming asks about another paper ("the proposed pruning
        method" is the pruning paper's)."""
        named = [content_terms(m.group(1)) for m in _NAMED_SUBJECT.finditer(words)]
        if not named:
            return False
        abstracts = self.pipeline.index.abstracts([pid for pid, _ in previous])
        held = content_terms(" ".join(abstracts.get(pid, title) for pid, title in previous))
        return any(len(terms - held) >= 2 for terms in named)

    def _named_list(self, words: str) -> list[tuple[str, str]] | None:
        """The earlier list that `words` name ("the vocabulary papers" of "which of the vocabulary papers …", "the
        Mistral papers" of "going back to the Mistral papers: …"): the listing turn whose question shares the most
        of them, the latest on a tie. None for "those" or "the reviews"."""
        words = content_terms(words) - _KIND_TERMS
        lists = [t for t in self.topic_turns() if len(t.papers) > 1]
        best = max(reversed(lists), key=lambda t: len(words & content_terms(t.standalone)), default=None)
        return best.papers if words and best and words & content_terms(best.standalone) else None

    def topic_turns(self) -> list[Turn]:
        """The turns since the user last switched topics ("Switching topics: …"): the papers before it are
        no longer what "those", "it" or "the second one" point at."""
        starts = [i for i, t in enumerate(self.turns) if t.how == "switched"]
        return self.turns[starts[-1]:] if starts else self.turns

    def _described(self, words: str, listed: list[tuple[str, str]], list_turn: Turn | None) -> tuple[str, str]:
        """The paper "the speech one" means: the best match among the listed papers, unless a paper the list
        missed (a candidate of its question that was not shown) matches the description `words` clearly better.
        A description that only one listed paper holds verbatim picks it; one that no listed paper holds and only
        one candidate's title does picks that: a short description ("the training-free one", "the survey one") is
        too little for a similarity to tell apart."""
        holding = self._holding(words, listed)
        if len(holding) == 1:
            return holding[0]
        candidates = None if list_turn is None else self._list_candidates(list_turn)
        if not holding and candidates and len(titled := self._holding(words, candidates, titles_only=True)) == 1:
            return titled[0]  # "the survey one" when the list missed the only survey it found
        retrieve = self.pipeline.retriever.search
        among = retrieve(words, 1, papers=[pid for pid, _ in listed]).papers
        candidate_ids = None if candidates is None else [pid for pid, _ in candidates]
        anywhere = retrieve(words, 1, papers=candidate_ids, filters=self.filters).papers
        if anywhere and (not among or anywhere[0].score > among[0].score + DESCRIPTION_MARGIN):
            return anywhere[0].paper_id, anywhere[0].title
        return (among[0].paper_id, among[0].title) if among else listed[0]  # none left (e.g. removed meanwhile)

    def _other(self, question: str, previous: tuple[str, str], listed: list[tuple[str, str]], list_turn: Turn
               ) -> tuple[str, str] | None:
        """"The other one" when the user saw more than two papers, or only the one the last turn was about: the
        paper, other than that one, that best matches the list's question with this one ("and the other one, what
        did it get on test-other?"): among the rest of the list, else among the list question's candidates."""
        others = [pid for pid, _ in listed if pid != previous[0]] or [
            pid for pid, _ in self._list_candidates(list_turn) if pid != previous[0]]
        found = self.pipeline.retriever.search(f"{self._list_question(list_turn)} {question}", 1, papers=others,
                                               filters=self.filters).papers if others else []
        return (found[0].paper_id, found[0].title) if found else None

    def _list_candidates(self, list_turn: Turn) -> list[tuple[str, str]]:
        """The (paper id, title) of the papers the list's question found, shown or not."""
        return [(paper.paper_id, paper.title) for paper in self.pipeline.list_candidates(
            self._list_question(list_turn), filters=self.filters).papers]

    def _list_question(self, turn: Turn) -> str:
        """The question that found a list's candidates: a narrowed list's is that of the list it narrowed."""
        if turn.how != "narrowed":
            return turn.standalone
        earlier = self.turns[:self.turns.index(turn)]
        return next((t.standalone for t in reversed(earlier) if len(t.papers) > 1 and t.how != "narrowed"),
                    turn.standalone)

    def _holding(self, words: str, papers: list[tuple[str, str]], titles_only: bool = False
                 ) -> list[tuple[str, str]]:
        """The papers whose title (or abstract) holds `words` verbatim."""
        abstracts = {} if titles_only else self.pipeline.index.abstracts([pid for pid, _ in papers])
        return [paper for paper in papers if occurs(words, abstracts.get(paper[0], paper[1]))]

    def _about(self, question: str, paper: tuple[str, str], how: How) -> Resolved:
        return Resolved(question, about(question, paper[1]), how, [paper])

    def rewrite(self, question: str) -> str:
        """One short LLM call: the question rewritten to stand on its own."""
        llm = self.pipeline.load_llm()
        reply = "".join(llm.stream(build_rewrite_messages(self.topic_turns(), question), MAX_REWRITE_TOKENS, Usage()))
        return clean_rewrite(reply, question)

    def stream(self, question: str, k: int | None = None, retrieval_only: bool = False
               ) -> Iterator[Resolved | Found | Sources | Token | Answer]:
        """The resolved question first, then the pipeline's events; the answer is recorded as a turn whose
        papers are those it cites (a retrieval-only turn: those it found; a refusal: those the question names, or
        the paper found first)."""
        resolved = self.resolve(clean_question(question), rewrite=not retrieval_only)
        yield resolved
        for event in self.pipeline.stream(resolved.standalone, k, retrieval_only, resolved.scope_ids,
                                          resolved.listing, self.filters):
            if isinstance(event, Answer):
                # A refusal cites nothing, yet "who proposed LLM-Pruner?" leaves LLM-Pruner the subject of "its";
                # a refused question of its own that got as far as showing the closest passage leaves the paper
                # found first ("what did they train it on?" after a refused question about a described paper).
                papers = (event.retrieved if retrieval_only else event.citations or
                          [p for p in event.retrieved if names_paper(resolved.standalone, p.title)] or
                          (event.retrieved[:1] if event.closest and not resolved.scope else []))
                self.turns.append(Turn(resolved.question, resolved.standalone, resolved.how,
                                       [(p.paper_id, p.title) for p in papers], event.text))
            yield event

    def ask(self, question: str, k: int | None = None) -> tuple[Resolved, Answer]:
        resolved = None
        for event in self.stream(question, k):
            if isinstance(event, Resolved):
                resolved = event
            elif isinstance(event, Answer):
                return resolved, event
        raise AssertionError("stream ended without an answer")

    def to_dicts(self) -> list[dict]:
        return [asdict(t) for t in self.turns]

    @staticmethod
    def turns_from_dicts(rows: list[dict]) -> list[Turn]:
        """Turns sent back by a client (the `/chat` API); malformed rows are a ValueError."""
        try:
            return [Turn(str(r["question"]), str(r["standalone"]), r["how"],
                         [(str(pid), str(title)) for pid, title in r["papers"]], str(r["answer"])) for r in rows]
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"not a conversation turn ({type(e).__name__}: {e})") from None



def answer_record(resolved: Resolved, answer: Answer) -> dict:
    """The JSON of one conversation turn: the answer object plus how its question was resolved."""
    return {**answer.to_dict(), "standalone": resolved.standalone, "resolution": resolved.how,
            "scope": [title for _, title in resolved.scope]}
