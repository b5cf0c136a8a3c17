import pytest

from rag.listing import asks_every_paper, is_list_question


@pytest.mark.parametrize("question", [
    "which papers prune Llama?",
    "papers on letting LLMs handle inputs longer than their training length?",
    "Are there any papers on protein structure prediction?",
    "any work on forecasting stock prices with time-series transformers?",
    "Which studies evaluate unlearning?",
    "list works that use LoRA",
    "Are there studies on unlearning?",
    "Find works that use LoRA",
    "List the surveys and literature reviews in this collection.",
    "Are there any surveys on hallucination?",
    "Show me reviews of multimodal LLMs",
    "Which articles discuss pruning?",
    "is there anything here on speculative / draft-then-verify decoding? list all of them please",
    "Is there anything in this collection about protein folding?",
    "anything about machine unlearning?",
    "what's in here on speech — ASR, TTS, spoken language models, that kind of thing?",
    "What do you have on quantization?",
    "what is there on initializing embeddings for new tokens?",
    "I'm looking for work that uses a language model to steer text-to-image generation",
    "I need methods that let a pretrained LLM handle inputs longer than its training length",
    "know of any methods for KV cache compression?",
    "any research on speech translation?",
    # Which paper is meant: the answer is the paper, judged like a list's candidates.
    "Which paper merges fine-tuned models after dropping most of their delta parameters?",
    "which work trains LLMs for tool calling by up-weighting important tokens?",
    "Is there a spoken dialogue model that the user can cut off mid-sentence?",
    "is there a multimodal LLM that turns images into model weights instead of visual tokens?",
    "Is there work on training tiny LMs on simplified language data?",
    "Which work introduced Large Concept Models?",
    "I remember a model that keeps a text-only LLM frozen and answers with generated images. Which paper was that?",
    "I'm looking for a model that reads charts without OCR",
    "Do you know a model that reads charts?",
    "Can you recommend a paper that prunes Llama?",
    "Hi! I’m looking for papers on pruning",
])
def test_questions_asking_for_a_set_of_papers_are_list_questions(question):
    assert is_list_question(question)


@pytest.mark.parametrize("question", [
    "which picture model works best on the vision-and-language benchmarks?",
    "In the Minitron pruning + distillation work, how many fewer training tokens are needed?",
    "What does the MUSE paper study?",
    "How well does this work on long inputs?",
    "Which tokenizer works better for German?",
    "Which method works the best?",
    "How does MUSE compare to prior work?",
    # A detail is asked too: the answer is a fact, not a paper.
    "Is there a method that needs no calibration data, and how much faster is it?",
    "Is there a chatbot that labels table rows? How accurate did it get?",
    "Is there any evidence that the method works on German?",
    "Is there anything the authors say about the license?",
    "What is it about?",
    "what's the paper on speech about?",
    "anything about its memory footprint?",  # a paper already named
    "what is on its roadmap?",
    "what's there about their training data?",
    "can you list them?",
    "Which model does CosyVoice use to turn tokens into speech?",
    # "reviews" as a verb, and reviews that are data
    "What does the paper that reviews MoE say about routing?",
    "What product reviews dataset did they use?",
    "In the benchmark for forgetting Harry Potter books and news articles, which unlearning algorithm did best?",
    "On the CNN/DailyMail articles, which model scored best?",
    "Has anyone reported how many GPUs it used, and how long did training take?",
    "show me the models it compares against",
    "what is there to know about MUSE?",
    "I'm looking for a paper that prunes Llama. How much memory does it save?",
    "show me the datasets",  # of the paper being discussed
    "Do they suggest any methods to mitigate this?",
    "did they do any research on robustness?",
])
def test_questions_about_one_paper_are_not_list_questions(question):
    assert not is_list_question(question)


@pytest.mark.parametrize("question", [
    "how many research papers are covered in the overview of OpenAI's models?",
    "The literature roundup on retrieval for LMs: how many papers does it review, and up to what year?",
])
def test_how_many_papers_a_review_covers_is_a_fact_of_that_review(question):
    assert not is_list_question(question)


def test_how_many_papers_do_something_is_still_a_list():
    assert is_list_question("how many papers prune Llama?")


@pytest.mark.parametrize("question, every", [
    ("Which papers use LoRA or some other low-rank adapter?", True),
    ("what's in here on speech — ASR, TTS, spoken language models?", True),
    # a known number of described papers, or the one paper described: its names describe it
    ("Two papers use language models to clean up ASR mistakes: which?", False),
    ("a couple of speech papers put a vector quantizer inside an ASR encoder. which ones?", False),
    ("is there a way to upgrade an already-trained LM so it picks its tokens on the fly?", False),
])
def test_only_a_question_for_every_paper_with_a_property_asks_for_every_paper(question, every):
    assert asks_every_paper(question) is every
