import pytest

from rag import prompts
from rag.evidence import about, build_messages, names_paper, select_evidence, users_words, word_bonus
from rag.pipeline import Sources
from rag.retrieve import Passage, RetrievedPaper
from rag.text import asked_part

from conftest import source
from fakes import FakeEmbedder

ABSTRACTS = {
    "id1": "Chimera: A Lossless Decoding Method\nWe propose Chimera, a speculative decoding framework. "
           "Chimera reaches a 2.7x speedup over autoregressive decoding. The code is public.",
    "id2": "SpQR: Sparse-Quantized Representation\nSpQR isolates outlier weights. It compresses LLaMA to 3 bits "
           "with near-lossless perplexity. We release code.",
}


def evidence(question: str, budget_chars: int = 1000, rank_step: float = 0.05) -> list[RetrievedPaper]:
    embedder = FakeEmbedder()
    papers = [RetrievedPaper(pid, text.split("\n")[0], [Passage(pid + "c", text.split("\n")[1], 0, 0.5, 0.1)])
              for pid, text in ABSTRACTS.items()]
    return select_evidence(question, embedder.embed([question])[0], papers, ABSTRACTS, embedder, budget_chars,
                           rank_step)


def test_evidence_is_the_sentences_likeliest_to_answer_within_the_budget():
    chosen = evidence("How much speedup over autoregressive decoding?", budget_chars=120)
    assert [(p.title, [s.text for s in p.passages]) for p in chosen] == [
        ("Chimera: A Lossless Decoding Method", ["Chimera reaches a 2.7x speedup over autoregressive decoding."])]


def test_a_quantity_question_prefers_a_sentence_with_a_number():
    chosen = evidence("how many bits does the outlier-isolating method compress LLaMA to?", budget_chars=130)
    texts = [s.text for p in chosen for s in p.passages]
    assert "It compresses LLaMA to 3 bits with near-lossless perplexity." in texts
    assert "SpQR isolates outlier weights." not in texts


def test_an_acronym_holds_the_words_it_stands_for_either_way():
    question = "how much worse did the word error rate get with a speaker reference?"
    abbreviated, spelled, other = word_bonus(question, [
        "WER increased by 14pp with a speaker reference.", "The word error rate increased by 14pp with a speaker "
        "reference.", "Speaker similarity improved by 4.7pp."])
    assert abbreviated == pytest.approx(spelled) and abbreviated > other
    assert word_bonus("how much worse did the WER get?", ["The word error rate rose."])[0] > word_bonus(
        "how much worse did the WER get?", ["The rate rose."])[0]
    assert word_bonus("Which AI models?", ["It is fast and improves models."]) == word_bonus(
        "Which AI models?", ["It improves models."])  # "and improves" spells no AI


def test_a_question_about_what_a_paper_did_prefers_the_sentence_stating_what_it_proposes():
    texts = ["To overcome this, we propose Equal-Info Windows.", "Equal-Info Windows overcome this."]
    proposed, described = word_bonus("plain arithmetic coding wasn't learnable, so what did they change?", texts)
    assert proposed > described
    proposed, described = word_bonus("what’s their trick?", texts)
    assert proposed > described
    proposed, described = word_bonus("how large are the Equal-Info Windows?", texts)  # asks a size, not a method
    assert proposed == described


def test_the_word_work_says_nothing_about_which_sentence_answers():
    question = "the multimodal llm that puts the image into the weights: how does that work?"
    assert word_bonus(question, ["Our work pushes the boundaries of LLMs."])[0] == word_bonus(
        question, ["It pushes the boundaries of LLMs."])[0]


def test_each_paper_shows_its_sentences_in_the_abstracts_order_and_papers_keep_their_rank():
    chosen = evidence("Chimera speculative decoding speedup code")
    assert [p.paper_id for p in chosen] == ["id1", "id2"]
    prompt = build_messages("q?", chosen)[1]["content"]
    assert prompt.index("We propose Chimera") < prompt.index("Chimera reaches") < prompt.index("The code is public")
    assert prompt.index("[1] Chimera") < prompt.index("[2] SpQR")


def test_the_clause_that_asks_finds_the_answer_sentence_the_description_would_miss():
    # The description ("speculative decoding framework ... autoregressive decoding") matches the first two
    # sentences; what is asked ("what is public") only the last.
    question = "In the speculative decoding framework that beats autoregressive decoding, what is public?"
    chosen = evidence(question, budget_chars=80, rank_step=1.0)
    assert [s.text for p in chosen for s in p.passages] == ["The code is public."]
    assert chosen[0].passages[0].answer_score > 0


def test_a_paper_the_question_names_comes_first_with_all_its_sentences():
    chosen = evidence("What does SpQR do to speculative decoding speedup?", budget_chars=200)
    assert [(p.paper_id, len(p.passages)) for p in chosen] == [("id2", 3)]


@pytest.mark.parametrize("question, title, named", [
    ("What is a 'concept' in Large Concept Models?", "Large Concept Models: Language Modeling in a Sentence", True),
    ("the 7B Large Concept Model", "Large Concept Models: Language Modeling in a Sentence", True),
    ("how does wechsel initialize embeddings?", "WECHSEL: Effective initialization of subword embeddings", True),
    ("what does MUSEUM contain?", "MUSE: Machine Unlearning Six-Way Evaluation", False),
    ("Which papers study concept drift?", "Large Concept Models: Language Modeling in a Sentence", False),
    ("why do models los accuracy?", "Loss: a study of training curves", False),
    ("what is it?", ": untitled", False),
])
def test_names_paper(question, title, named):
    assert names_paper(question, title) is named


@pytest.mark.parametrize("question, asked", [
    ("in the co-design that gives each block of weights its own format, how many weights go into one block",
     "how many weights go into one block"),
    ("At roughly 2.5 bits per weight, what share of the model gets compressed?",
     "what share of the model gets compressed?"),
    ("Is there a chatbot that labels table rows by summarizing them? How accurate did it get? Thanks.",
     "How accurate did it get?"),
    ("The label-free method that turns BERT into a sentence embedder - what GPU was it timed on?",
     "what GPU was it timed on?"),
    ("When trimming the vocabulary to one language, roughly how much of it is enough?",
     "roughly how much of it is enough?"),
    # The question asks from its first word: every part of it is asked.
    ("Has anyone released telecom language models, and in what sizes?",
     "Has anyone released telecom language models, and in what sizes?"),
    ("What does LS-unLLaMA change, and what task does it excel at?",
     "What does LS-unLLaMA change, and what task does it excel at?"),
    # "even when", "when used" and a description after a comma do not ask.
    ("Why does a lookup help a next-word predictor, even when it draws on the text it was trained on?",
     "Why does a lookup help a next-word predictor, even when it draws on the text it was trained on?"),
    ("Which model supplies the words when that iterative, black-box method swaps parts of the input?",
     "Which model supplies the words when that iterative, black-box method swaps parts of the input?"),
    ("Which coder, when used naively, gives output models cannot learn from?",
     "Which coder, when used naively, gives output models cannot learn from?"),
    ("What is MEXA?", "What is MEXA?"),
    ("speculative decoding papers", "speculative decoding papers"),
])
def test_asked_part_runs_from_the_first_clause_that_asks_to_its_sentences_end(question, asked):
    assert asked_part(question) == asked


def test_a_question_for_named_models_asks_the_model_for_the_names():
    wavllm = [source("WavLLM", "It uses a Whisper encoder and a WavLM encoder.")]
    assert build_messages("Which two encoders does WavLLM use?", wavllm)[-1]["content"].endswith(
        f"use? {prompts.NAMES_HINT}")
    assert prompts.NAMES_HINT not in build_messages("What does WavLLM do?", wavllm)[-1]["content"]


def test_a_follow_up_about_one_paper_ranks_its_sentences_by_the_users_words(real_pipeline):
    # The "(about <title>)" the conversation adds names the paper every sentence is of; ranked with it, the
    # sentences repeating the title's words filled the budget and the one that answers was left out.
    title = ("Democratizing LLMs for Low-Resource Languages by Leveraging their English Dominant Abilities with "
             "Linguistically-Diverse Prompts")
    question = about("did they try it on anything besides translation? how did that go", title)
    assert users_words(question) == "did they try it on anything besides translation? how did that go"
    scope = [p.paper_id for p in real_pipeline.retrieve(title).papers if p.title == title]
    sources = next(e for e in real_pipeline.stream(question, papers=scope) if isinstance(e, Sources)).sources
    assert "summarization" in " ".join(p.text for s in sources for p in s.passages)


@pytest.mark.parametrize("title", ["LLM-Pruner: On the Structural Pruning of Large Language Models",
                                   "Do Not (Always) Look Right: Investigating the Capabilities of Decoder-Based LLMs",
                                   "Retrofitting (Large) Language Models with Dynamic Tokenization"])
def test_the_users_words_are_the_follow_up_without_the_paper_it_is_about(title):
    assert users_words(about("how was it (really) evaluated?", title)) == "how was it (really) evaluated?"
    assert users_words("what does (about) mean here?") == "what does (about) mean here?"
