"""Text rules shared by the checks, the citations and the list judge: sentences, [n] markers, content
words, numbers and names. One place, so that every check splits and matches text the same way."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

# A sentence ends at . ! or ? unless the next word is plain lowercase or the dot ends vs. e.g. i.e. et al. or
# an abbreviation before a number ("No. 1", "Fig. 3").
SENTENCE = re.compile(r"(?<=[.!?])(?<!\bvs\.)(?<!\b[eE]\.g\.)(?<!\b[iI]\.e\.)(?<!\bal\.)"
                      r"(?!(?:(?<=\b[Nn]o\.)|(?<=\bEq\.)|(?<=\b(?:Fig|Sec|Tab)\.))\s+\d)\s+(?=[^\sa-z]|[a-z]+[A-Z0-9])")

# [1], [1, 2], [1][2], [Source 1], [sources 1; 3]
MARKER = re.compile(r"\[\s*(?:sources?\s*)?(\d+(?:\s*[,;]\s*(?:sources?\s*)?\d+)*)\s*\]", re.IGNORECASE)

NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*")
# A web address is one term of its own: its parts are no words, numbers or names of the text ("horseee" of
# github.com/horseee/LLM-Pruner names no author).
URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"'\])]+", re.IGNORECASE)
# A capitalized or mixed-case word that does not start a sentence: names of models, methods, datasets.
_NAME = re.compile(r"(?<![.!?:]\s)(?<!^)\b(?!I\b)([A-Z][\w-]*|[a-z]+[A-Z][\w-]*)")  # not the pronoun I
# A sentence's first word is a name only when its case says so (LSLM, GPT-4, mT5), not because it is first.
_FIRST_NAME = re.compile(r"^\W*([A-Za-z]+[A-Z0-9][\w-]*)")
# A model's name as users type it, in lower case with its size or version: "llama2-13b", "gpt-3.5", "mistral-7b".
# Not what counts or ranks: "top-1", "stage-2", "sub-1b".
_LOWER_NAME = re.compile(r"(?<![\w.-])(?!(?:sub|top|non|pre|post|over|under|up|step|stage|phase|round|layer|level|type|"
                         r"version|rank|pass|epoch|block|head|group|window|task|table|fig|figure|section|k|n|int|fp|bf|"
                         r"cuda|python)-)[a-z]+\d*(?:-[a-z]*\d+[a-z]*(?:\.\d+)?)+(?:-[a-z]+)*(?![\w-])")

_WORD = re.compile(r"[a-z0-9]+(?:[.\-][a-z0-9]+)*")
_STOPWORDS = set("""a about above after all also an and any are as at be been both but by can could did do does
done each either for from had has have how however i if in into is it its itself may more most much no not of
on one only or other our over per same so some such than that the their them then there these they this those
to up us very was we were what when where whether which while who whom why will with within would yes you""".split())


# "How does it decide how many bits each expert gets?" asks how it decides, not how many.
_EMBEDDED = "".join(rf"(?<!{verb}\s)" for verb in (
    "decide", "decides", "decided", "determine", "determines", "determined", "choose", "chooses", "chose", "pick",
    "picks", "select", "selects", "set", "sets", "control", "controls", "learn", "learns", "learned", "predict",
    "predicts", "estimate", "estimates", "allocate", "allocates", "measure", "measures", "measured"))
# A question that asks for a quantity: its answer is a sentence with a number in it. "Which saw more tokens?" and
# "which gives the larger speedup?" compare two quantities.
QUANTITY = re.compile(rf"\b(?:{_EMBEDDED}how\s+(?:many|much|large|big|small|fast|long|often|far|high|low|cheap|"
                      r"expensive|costly)|by\s+how|"
                      r"what\s+(?:percentage|fraction|share|proportion|score|size|number|amount)s?|"
                      r"what\s+(?:\w+\s+){0,3}(?:rate|accuracy|speed-?up)|"
                      r"what\s+(?:(?:is|was|are|were)\s+)?(?:the\s+)?(?:[\w-]*[^\Ws]\s+)?"
                      r"(?:perplexit(?:y|ies)|throughputs?|latenc(?:y|ies)|costs?|budgets?)|"
                      r"what\s+(?:does|did|do|would|will)\s+(?:\w+\s+){1,3}cost\b|"
                      r"which\s+(?:\w+\s+){0,3}(?:more|larger|higher|bigger|fewer|lower|smaller))\b", re.IGNORECASE)


_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")


def sentences(text: str) -> list[str]:
    """Sentences of a text; each line of a list is one on its own, without its bullet."""
    return [s.strip() for line in text.splitlines() for s in SENTENCE.split(_BULLET.sub("", line).strip()) if s.strip()]


def marker_numbers(text: str) -> list[int]:
    """The source numbers of every [n] marker, in order of appearance."""
    return [int(n) for m in MARKER.finditer(text) for n in re.findall(r"\d+", m.group(1))]


# "The report by [1] states …", "as reported by [2]": "by" whose object is a marker goes with it ("in [1]" may carry
# meaning: "larger than in [2]").
_MARKER_OBJECT = re.compile(r"\s+by(?=\s*\[\s*(?:sources?\s*)?\d)", re.IGNORECASE)


def strip_markers(text: str) -> str:
    """The text without [n] markers (and a "by" they are the object of), and without the space they leave before
    punctuation."""
    text = MARKER.sub("", _MARKER_OBJECT.sub("", text))
    return re.sub(r" {2,}", " ", re.sub(r"\s+([.,;:!?])", r"\1", text)).strip()


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def content_terms(text: str) -> set[str]:
    """Stemmed words that carry meaning, and whole web addresses: what a sentence claims, and what a source says."""
    words = [w for w in _WORD.findall(MARKER.sub(" ", without_urls(text)).casefold()) if w not in _STOPWORDS]
    return set(_stemmer().stemWords(words)) | set(urls(text))


_ACRONYM = re.compile(r"\b([A-Z]{2,5})s?\b")


def spelling(acronym: str, text: str) -> str | None:
    """The words of `text` whose first letters spell `acronym` ("word error rate": WER; "key-value": KV; not "and
    improves": AI, nor "to time-stretching": TTS), or None."""
    initials = r"[\s-]+".join(rf"{letter}[a-z]*" for letter in acronym.lower())
    for match in re.finditer(rf"\b{initials}\b", text.lower()):
        if not any(word in _STOPWORDS for word in re.split(r"[\s-]+", match.group(0))):
            return match.group(0)
    return None


def spelled_out(text: str, other: str) -> dict[str, set[str]]:
    """The acronyms of `text` that `other` spells out, each with the terms of its words: a user and an abstract
    abbreviate differently."""
    return {acronym.casefold(): content_terms(words) for acronym in dict.fromkeys(_ACRONYM.findall(text))
            if (words := spelling(acronym, other))}


def word_terms(text: str) -> set[str]:
    """`content_terms` with each hyphenated word's parts too ("hidden-transfer": hidden, transfer), as the keyword
    index splits them."""
    return content_terms(text) | content_terms(re.sub(r"(?<=\w)-(?=\w)", " ", text))


def urls(text: str) -> list[str]:
    """The web addresses of a text, lower-cased, without the punctuation that ends their sentence."""
    return list(dict.fromkeys(u.rstrip(".,;:!?").casefold() for u in URL.findall(text)))


def without_urls(text: str) -> str:
    return URL.sub(" ", text)


# "Which two encoders does WavLLM use?", "which picture model works best?", "which TTS systems …?": the answer is
# named things. Not "what model …?" ("a conditional flow matching model" answers it), "which techniques / algorithms
# …?" ("pruning", "beam search" answer it) nor "which papers …?" (a list).
_NAMED_KINDS = (r"(?:models?|llms?|datasets?|benchmarks?|corpus|corpora|languages?|encoders?|decoders?|tokenizers?|"
                r"gpus?|optimizers?|backbones?)")
# What follows the asked noun when it ends the noun phrase ("which languages did …", "which corpora?"); else a
# plural noun follows ("which language pairs", "which language benchmarks").
_AFTER_HEAD = (r"\s*[?,.;]|\s*$|\s+(?:does|do|did|is|are|was|were|has|have|had|can|could|would|will|should|they|it|we|"
               r"you|the|a|an|for|in|on|with|from|to|of|by|at|exactly|precisely)\b")
ASKS_NAMES = re.compile(
    r"\bwhich\s+(?:(?!(?:papers?|works?|stud(?:y|ies)|ones?|of|with|for|on|in|to|by|from|about|that|do|does|did|is|"
    rf"are|was|were)\b)[\w-]+\s+){{0,3}}?(?:{_NAMED_KINDS}(?={_AFTER_HEAD}|\s+[a-z]+s\b)|systems?(?={_AFTER_HEAD}))",
    re.IGNORECASE)  # "which system prompts" asks no system

# A number in digits or words ("four key aspects", "a seven-fold reduction", "twice as fast"). "One" is left out:
# it is mostly a pronoun ("one of the").
_QUANTITY_WORD = re.compile(r"\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|fifty|"
                            r"dozens?|hundreds?|thousands?|millions?|billions?|twice|half|double|triple)\b", re.IGNORECASE)


# A clause that asks: it opens with a wh-word (after at most two words such as "and in" or "roughly"), when or
# where only before a verb that asks ("where do they argue"), or a yes/no question's verb. "even when it was
# trained", "when used naively" and a relative ", which" after a noun do not ask.
_ASKING = re.compile(r"^(?:(?:and|but|or|so|then|in|on|at|for|from|with|by|to|of|under|over|across|among|roughly|"
                     r"approximately|about|exactly|just)\s+){0,2}(?:what|which|how|who|whom|whose|why)\b|"
                     r"^(?:and\s+)?(?:(?:when|where)\s+)?(?:is|are|was|were|do|does|did|can|could|has|have|had|will|"
                     r"would|should)\b", re.IGNORECASE)
_CLAUSE = re.compile(r"[,;:.?!](?=\s|$)|[\u2014\u2013]|\s-\s")


def asked_part(question: str) -> str:
    """What a question asks, without the description before it: in its last sentence that asks, from the first
    clause that asks to the end. "how many weights go into one block?" of "In the co-design that gives each
    block of weights its own number format, how many weights go into one block?"; "How accurate is it?" of "Is
    there a chatbot that labels rows? How accurate is it?". What describes the paper finds the paper; what is
    asked finds the sentence that answers. The whole question when it asks from its first word."""
    for sentence in reversed(SENTENCE.split(question.strip())):
        if starts := _asking_starts(sentence):
            part = sentence[starts[0]:].strip()
            return question if part == question.strip() else part
    return question


def asking_clauses(question: str) -> int:
    """How many clauses of the question ask something."""
    return sum(len(_asking_starts(sentence)) for sentence in SENTENCE.split(question.strip()))


def _asking_starts(sentence: str) -> list[int]:
    """Where the sentence's clauses that ask begin."""
    starts = [0, *(m.end() for m in _CLAUSE.finditer(sentence))]
    return [i for i in starts if _ASKING.search(sentence[i:].strip())]


# A quantity as stated: a number with what is attached to it ("770M", "4-bit") or, bare, the word after it
# ("2 trillion": not the "2" of "Llama 2"), or a number word ("three", "twice").
_STATED_QUANTITY = re.compile(rf"({NUMBER.pattern}[-\w%]*)\s*([A-Za-z]*)|({_QUANTITY_WORD.pattern})", re.IGNORECASE)


def quantities(text: str) -> list[tuple[str, str]]:
    """Each quantity as (number, the word after a bare number): ("770M", ""), ("2", "trillion"), ("three", "")."""
    found = []
    for m in _STATED_QUANTITY.finditer(text):
        number, after, word = m.groups()
        if number is None:
            found.append((word.lower(), ""))
        else:
            found.append((number, after.lower() if NUMBER.fullmatch(number) else ""))
    return found


# Languages an abstract may name, natural and programming. Asked "which four languages did they test?", the small
# model answered "They tested RoBERTa and LLaMA 2 across four languages": new names, none of them a language.
LANGUAGES = frozenset("""afrikaans akan albanian amharic arabic armenian assamese awadhi azerbaijani bambara basque
belarusian bengali bhojpuri bosnian bulgarian burmese cantonese catalan cebuano chichewa chinese croatian czech danish
dutch dzongkha english estonian ewe farsi filipino finnish fon french fulfulde galician georgian german greek guarani
gujarati haitian hausa hebrew hindi hmong hungarian icelandic igbo ilocano indonesian irish italian japanese javanese
kannada kazakh khmer kikuyu kinyarwanda kirundi korean kurdish kyrgyz lao latin latvian lingala lithuanian luganda luo
macedonian maithili malagasy malay malayalam maltese mandarin maori marathi mongolian nepali norwegian odia oriya oromo
pashto persian pidgin polish portuguese punjabi quechua romanian russian sanskrit serbian sesotho shona sindhi sinhala
slovak slovene slovenian somali spanish sundanese swahili swedish tagalog tajik tamil telugu thai tibetan tigrinya
tswana turkish turkmen twi ukrainian urdu uyghur uzbek vietnamese welsh wolof xhosa yiddish yoruba zulu
python java javascript typescript rust golang kotlin scala ruby php perl haskell julia matlab fortran cobol lua
swift sql bash cpp""".split()) | {"c++", "c#"}


# "99 languages", "over 80 programming languages": how many, when they are not named.
_LANGUAGE_COUNT = re.compile(rf"(\d[\d,.]*|{_QUANTITY_WORD.pattern})\+?\s+(?:[\w-]+\s+)?languages?\b", re.IGNORECASE)


@lru_cache(maxsize=64)
def _asks_languages(question: str) -> bool:
    """Whether the question asks which languages: "language(s)" ends its asked noun phrase. Cached: the quote
    fallback asks it of every evidence sentence."""
    asked = ASKS_NAMES.search(question)
    return bool(asked and asked.group(0).lower().endswith(("language", "languages"))
                and re.match(_AFTER_HEAD, question[asked.end():], re.IGNORECASE))


def names_what_is_asked(text: str, question: str) -> bool:
    """Whether `text` names something a "which models / datasets / languages …" question does not: a name or
    number; for languages (the noun the question ends its phrase with), a language's name or how many there are."""
    if _asks_languages(question):
        named = [w for w in re.findall(r"[a-z]+(?:\+\+|#)?", text.lower()) if w in LANGUAGES]
        counted = [m.group(1) for m in _LANGUAGE_COUNT.finditer(text)]
        return any(not occurs(term, question) for term in named + counted)
    return any(not occurs(term, question) for term in names(text) + numbers(text))


# What may open the asking part before its wh-word: "and who …?", "so when …?".
OPENING = r"^\W*(?:(?:and|so|ok|then)\W+)*"
# "when will they release the code?", "when was it published?" ask for a time, which an answer states as a date, as
# "after …", or as done ("the code is available at …"). "When does speculative decoding fail?" asks for a condition.
_ASKS_WHEN = re.compile(rf"{OPENING}when\s+(?:is|are|was|were|will|would|did|do|does|has|have|can|could|should)\b"
                        r"(?=.*\b(?:releas|publish|open[- ]?sourc|available|out\b|launch|appear|submit|present|"
                        r"introduc|propos))", re.IGNORECASE)
_TIME = re.compile(r"\b(?:199\d|20[0-2]\d|january|february|march|april|june|july|august|september|october|"
                   r"november|december|spring|summer|autumn|winter|after|before|upon|until|soon|later|ago|since|"
                   r"already|now|today|currently|days?|weeks?|months?|years?|quarter)\b|"
                   r"\b(?:is|are|was|were|has\s+been|have\s+been)\s+(?:publicly\s+|now\s+|freely\s+)?"
                   r"(?:available|released|open-sourced|published)\b",
                   re.IGNORECASE)


# "how did they make it learnable?", "what did they change to make it work?", "what sampling trick makes that
# trainable?": the answer is what the paper does, which abstracts state as "we propose …", "X is introduced".
_ASKS_METHOD = re.compile(rf"{OPENING}(?:how\s+(?:do|did|does|can|could)\s+(?:they|it|the\s+authors|you)\s+"
                          r"(?:make|get|fix|solve|overcome|address|handle|avoid|achieve|do\s+(?:it|that|this))|"
                          r"what(?:\s+(?:do|does|did)\s+(?:they|it|the\s+authors)\s+(?:do|change|add|propose|"
                          r"introduce|try|suggest)|(?:['’]?s|\s+(?:is|was|are|were))?\s+(?:(?:the|their|its)\s+)?"
                          r"(?:\w+\s+)?(?:trick|technique|approach|idea|mechanism|solution|fix)s?)\b)", re.IGNORECASE)
# A sentence stating a paper's own contribution.
_STATES_METHOD = re.compile(r"\b(?:we|this\s+(?:paper|work))\s+(?:\w+\s+)?(?:propose|introduce|present|develop|design|"
                            r"devise|use|employ|adopt)s?\b|\b(?:is|are)\s+(?:\w+\s+)?(?:proposed|introduced|"
                            r"developed|designed|employed)\b|\bto\s+(?:overcome|address|tackle|solve|mitigate)\b",
                            re.IGNORECASE)


def asks_method(question: str) -> bool:
    return _ASKS_METHOD.search(asked_part(question)) is not None


def states_method(text: str) -> bool:
    return _STATES_METHOD.search(text) is not None


# "what license is it released under?", "can I use it commercially?": the answer names a license or its terms.
# Not "the apache-licensed model: how …?" nor "does it beat commercially available ASR?".
_ASKS_LICENSE = re.compile(r"\blicen[cs]es?\b|\b(?:use|using|deploy|sell)\s+(?:[\w-]+\s+){0,2}commercially\b|"
                           r"\bcommercial\s+(?:use|purposes?|applications?|products?)\b", re.IGNORECASE)
_LICENSE = re.compile(r"\blicen[cs](?:e|es|ed)\b|\b(?:apache|bsd|gpl|agpl|lgpl|creative\s+commons|cc[- ]by[\w-]*|"
                      r"public\s+domain|openrail[\w-]*|open[- ]weights?)\b|"
                      r"\bnon-?commercial\b|\bcommercial(?:ly|\s+(?:use|purposes?|licen\w*))\b|"
                      r"\bresearch(?:[- ]only|\s+(?:use|purposes?)\s+only)\b", re.IGNORECASE)



def states_time(text: str) -> bool:
    """Whether `text` says when: a date, a time relative to something, or that it is already out (a web address)."""
    return _TIME.search(strip_markers(text)) is not None or bool(urls(text))


@dataclass(frozen=True)
class Asked:
    """A kind of thing a question may ask for, which an answer must then give: a time, a license."""
    what: str  # "the question asks {what}"
    lacking: str  # "the answer {lacking}"
    asking: re.Pattern  # found in the part of the question that asks
    gives: Callable[[str], object]  # true of an answer or a sentence that gives it

    def asks(self, question: str) -> bool:
        return self.asking.search(asked_part(question)) is not None


ASKED = (Asked("when", "states no time", _ASKS_WHEN, states_time),
         Asked("about a license", "names none", _ASKS_LICENSE, _LICENSE.search))


def asked_kinds(question: str) -> list[Asked]:
    return [kind for kind in ASKED if kind.asks(question)]


def states_quantity(text: str) -> bool:
    return bool(numbers(text)) or _QUANTITY_WORD.search(text) is not None


def numbers(text: str) -> list[str]:
    return list(dict.fromkeys(NUMBER.findall(MARKER.sub(" ", without_urls(text)))))


_ENUMERATOR = re.compile(r"\(\d{1,2}\)")
_FIGURE = re.compile(r"^[~$≈]?(\d+(?:[.,]\d+)*)([-\w%]*)$")
_EDGE = "()[],;:.!?\"'"


def figures(text: str) -> list[tuple[str, str]]:
    """Each number the text states with its unit: what is attached to it or, bare, the next word ("3.65x": x,
    "28.8 points": points). Not the digits of a name (the 3 of GPT-3, the 7 of LLaMA2-7B) nor an enumerator
    ("(2) DARE can merge …")."""
    raw = MARKER.sub(" ", without_urls(text)).split()
    words = [w.strip(_EDGE) for w in raw]
    found = []
    for i, word in enumerate(words):
        if (m := _FIGURE.match(word)) and not _ENUMERATOR.fullmatch(raw[i]):
            unit = m.group(2).lstrip("-") or (words[i + 1] if i + 1 < len(words) else "")
            found.append((m.group(1), unit.lower()))
    return found


def _figure_in_clause(number: str, sentence: str) -> tuple[str, list[str], int] | None:
    """The clause of `sentence` where `number` first stands as a figure, its words, and the figure's index."""
    for clause in _CLAUSE.split(MARKER.sub(" ", without_urls(sentence))):
        words = clause.split()
        for i, word in enumerate(words):
            if (m := _FIGURE.match(word.strip(_EDGE))) and m.group(1) == number:
                return clause, words, i
    return None


def name_after(number: str, sentence: str, within: int = 4) -> str | None:
    """The first name within `within` words after `number` in its clause: what the figure is on ("2.7 points on
    GLUE")."""
    if not (found := _figure_in_clause(number, sentence)):
        return None
    clause, words, i = found
    in_clause = set(names(clause))
    return next((w for w in (w.strip(_EDGE) for w in words[i + 1:i + 1 + within]) if w in in_clause), None)


def names_near(number: str, sentence: str, width: int = 6) -> list[str]:
    """The names within `width` words of `number` in its clause of `sentence`: what the number is said of
    ("and BERT-large by 9.3 points on SuperGLUE"). None for a number inside a name (the 7 of LLaMA2-7B)."""
    if not (found := _figure_in_clause(number, sentence)):
        return []
    _, words, i = found
    return [name for name in names(" ".join(words[max(0, i - width):i + width + 1])) if not occurs(number, name)]


def names(sentence: str) -> list[str]:
    """Names a sentence states: capitalized or mixed-case words, the first word only if its case marks it, then
    model names in lower case ("llama2-13b")."""
    text = re.sub(r"^\W+", "", MARKER.sub(" ", without_urls(sentence)))  # the first word of "“Only one …” [1]"
    found = [m.group(1) for m in _NAME.finditer(text)]
    if first := _FIRST_NAME.match(text):
        found.insert(0, first.group(1))
    found += [m.group(0) for m in _LOWER_NAME.finditer(text)]
    return list(dict.fromkeys(found))


def occurs(term: str, text: str) -> bool:
    """Whole-word match, case-insensitive; a trailing plural s is optional on either side (GEMM: GPU GEMMs; not
    HA: has); a number may run into letters (175 in OPT-175B) but not into digits (3 in 3.65); a hyphenated name
    occurs when its name-like parts all do (OWSM-CTC: OWSM and CTC; GPT-style: GPT); a name with a number is
    spaced or hyphenated freely (llama2-13b: LLaMA-2-13B, Llama 2 13B; GPT-4: GPT4)."""
    text = text.casefold()

    def whole(word: str) -> bool:
        edge = r"(?![\d]|\.\d)" if word[0].isdigit() else r"s?(?!\w)" if len(word) > 2 else r"(?!\w)"
        return re.search(rf"(?<![\w.]){re.escape(word.casefold())}{edge}", text) is not None

    if whole(term) or (term.endswith("s") and len(term) > 2 and whole(term[:-1])):
        return True
    parts = [p for p in term.split("-") if len(p) > 1 and p != p.lower()]
    if "-" in term and parts and all(whole(p) for p in parts):
        return True
    pieces = re.findall(r"[^\W\d_]+|\d+(?:\.\d+)?", term.casefold())
    spaced = r"[-\s]?".join(map(re.escape, pieces))
    return len(pieces) > 1 and any(p[0].isdigit() for p in pieces) and re.search(
        rf"(?<![\w.]){spaced}(?!\w|\.\d)", text) is not None


# "how many GPU hours did …", "how many points above zero-shot …", "how many of its scenarios …": the words after
# "how many", up to the verb or preposition that ends the noun phrase.
# After "how many of its", the noun phrase runs to its first plural: a verb may follow ("… methods avoided …").
_HOW_MANY = re.compile(rf"\b{_EMBEDDED}how\s+many\s+(?:of\s+(?:the|its|their|these|those)\s+((?:[\w-]+\s+){{0,2}}?"
                       r"(?!(?:is|was|has|does|this|its)\b)[\w-]+s)\b|((?:(?!(?:is|are|was|were|do|does|did|has|have|"
                       r"had|can|could|will|would|of|in|on|for|to|from|by|with|at|that|which|per|made|went|go|got|get|"
                       r"than|each|every|they|it|we|you|above|below|over|under|across|into|between|among|after|before)"
                       r"(?![\w-]))[\w-]+\s*){1,4}))", re.IGNORECASE)
# Words that may stand between a number and what it counts: "180k hours", "10 million samples", "40x fewer tokens".
_SCALE = {"k", "m", "b", "thousand", "million", "billion", "trillion", "hundred", "thousands", "millions", "billions",
          "hundreds", "x", "times", "additional", "extra", "more", "fewer", "less", "different", "distinct"}
# Count nouns that research abstracts use for one another: a question's "examples" are the abstract's "samples".
_SAME_COUNT = [{"exampl", "sampl", "instanc", "datapoint"}, {"paper", "public", "studi", "articl", "work"},
               {"paramet", "param"}, {"point", "pp"}]
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[.,'\-][A-Za-z0-9]+)*")


# A comparison beside what is counted: "how many points better", "how many more tokens".
_COMPARATIVES = {"better", "worse", "more", "fewer", "less", "higher", "lower", "larger", "smaller", "bigger", "greater",
                 "faster", "slower", "longer", "shorter", "ahead", "behind"}


def counted_nouns(question: str) -> list[str]:
    """What a "how many …" question counts: the last word of each part of its noun phrase ("how many Indian and
    African languages": Indian, languages). Empty for any other question."""
    match = _HOW_MANY.search(question)
    if not match:
        return []
    parts = [[w for w in part.split() if w.casefold() not in _COMPARATIVES] or part.split()  # "how many more?"
             for part in re.split(r"\s+(?:and|or)\s+|,\s*", (match.group(1) or match.group(2)).strip())]
    return list(dict.fromkeys(words[-1] for words in parts if words))


# The most words a number's phrase runs to: what is counted is its last word, after the adjectives ("four
# diverse open-source test sets").
_COUNTED_PHRASE_WORDS = 5


def counts(text: str) -> list[tuple[str, list[str]]]:
    """(number, the words of what it counts) for each number of `text` in digits or words: a unit written onto it
    ("14pp") and the words after it, past scales ("10 million samples"), up to the next stopword or punctuation
    ("four key aspects in …"), and at most _COUNTED_PHRASE_WORDS (5)."""
    text = MARKER.sub(" ", text)
    tokens = list(_TOKEN.finditer(text))
    found = []
    for i, token in enumerate(tokens):
        word = token.group()
        if not (word[0].isdigit() or _QUANTITY_WORD.fullmatch(word)):
            continue
        unit = re.fullmatch(r"\d[\d.,]*([A-Za-z]+)", word)  # "14pp" counts points
        phrase: list[str] = [unit.group(1)] if unit and unit.group(1).casefold() not in _SCALE else []
        for before, after in zip(tokens[i:], tokens[i + 1:]):
            w = after.group()
            if text[before.end():after.start()].strip():  # punctuation ends the phrase ("four key aspects: …")
                break
            if w.casefold() in _SCALE and not phrase:
                continue
            if w.casefold() in _STOPWORDS or w[0].isdigit() or len(phrase) == _COUNTED_PHRASE_WORDS:
                break
            phrase.append(w)
        found.append((word, phrase))
    return found


def counts_asked(phrase: list[str], nouns: list[str]) -> bool:
    """Whether a number's phrase names what the question counts, or a word research abstracts use for it."""
    asked = set(_stemmer().stemWords([n.casefold() for n in nouns]))
    words = [w.casefold() for w in phrase]
    if re.search(r"\bdata\s+points?\b", " ".join(words)):  # "1,217 training data points" counts examples
        words.append("datapoint")
    for stem in _stemmer().stemWords(words):
        if stem in asked or any(stem in group and asked & group for group in _SAME_COUNT):
            return True
    return False


def counts_what_is_asked(text: str, question: str) -> bool:
    """Whether `text` states a number of what a "how many" question counts; True for any other question."""
    asked = counted_nouns(question)
    return not asked or any(counts_asked(phrase, asked) for _, phrase in counts(text))
