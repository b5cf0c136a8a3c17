"""Questions about two papers ("Which …: A or B?", "What do A and B both …?"): each answered on its own, from its
own paper."""

import pytest

from rag import prompts
from rag.choice import choice
from rag.listing import is_list_question

from fakes import ScriptedLLM


@pytest.mark.parametrize("question, asked, options", [
    ("Which gives the larger speedup: Chimera or Token Recycling?", "Which gives the larger speedup",
     ("Chimera", "Token Recycling")),
    ("which saw more training tokens — the small bilingual model, or the cheaply grown 100B model?",
     "which saw more training tokens", ("small bilingual model", "cheaply grown 100B model")),
    ("Which is faster, Medusa or Chimera", "Which is faster", ("Medusa", "Chimera")),
    # what follows the choice asks for nothing more than each option's figure
    ("which gets the bigger speedup: the draft-model framework, or the lambda-shaped mask trick? give both numbers",
     "which gets the bigger speedup", ("draft-model framework", "lambda-shaped mask trick")),
    # "A vs B", "Comparing A with B": what the other parts ask, less "each"
    ("compare language coverage: the paper that stitches an MT encoder into an llm vs the one adding script "
     "embeddings to xlm-r. how many languages each?", "how many languages",
     ("paper that stitches an MT encoder into an llm", "one adding script embeddings to xlm-r")),
    ("WECHSEL versus the paper that proposes constrained word2vec: which of the two relies on multilingual "
     "embeddings?", "which of the two relies on multilingual embeddings",
     ("WECHSEL", "paper that proposes constrained word2vec")),
    ("Comparing the method that recycles tokens with the one that uses a draft model — which is faster?",
     "which is faster", ("method that recycles tokens", "one that uses a draft model")),
    ("compare Chimera and Medusa: which is faster?", "which is faster", ("Chimera", "Medusa")),
    ("the decoding method that recycles tokens vs the pruning recipe: which is faster?", "which is faster",
     ("decoding method that recycles tokens", "pruning recipe")),
    # a colon inside words, "vs." and "et al." split nothing
    ("MaskLLM vs. the Smith et al. method: which gets better 2:4 sparsity?", "which gets better 2:4 sparsity",
     ("MaskLLM", "Smith et al. method")),
    # "Compare A with B": "with" before "to", and a description's own ", and" stays whole
    ("Compare the method that maps embeddings to other languages with the one that drafts, verifies, and recycles: "
     "which is faster?", "which is faster",
     ("method that maps embeddings to other languages", "one that drafts, verifies, and recycles")),
])
def test_choice_questions_are_split_into_what_is_asked_and_two_options(question, asked, options):
    found = choice(question)
    assert found.options == options
    assert found.questions == tuple(prompts.OPTION_QUESTION.format(asked=asked, option=o) for o in options)


@pytest.mark.parametrize("question, questions", [
    # "both" comes first: a "vs" in what is asked is no pair
    ("OWSM-CTC and Denoising LM are both about speech - what accuracy vs size trade-off appears in both?",
     ("what accuracy vs size trade-off appears in OWSM-CTC?", "what accuracy vs size trade-off appears in Denoising "
                                                              "LM?")),
    ("Which retrieval benchmark do NV-Embed and Mistral-SPLADE both report results on?",
     ("Which retrieval benchmark do NV-Embed report results on?",
      "Which retrieval benchmark do Mistral-SPLADE report results on?")),
    ("OWSM-CTC and Denoising LM are both about speech recognition - what criterion appears in both?",
     ("what criterion appears in OWSM-CTC?", "what criterion appears in Denoising LM?")),
    ("SpQR and EasyQuant both keep outliers - how many do they keep?",
     ("how many do they keep — what do the excerpts report for SpQR?",
      "how many do they keep — what do the excerpts report for EasyQuant?")),
    ("What decoder is used both by the paper that tags entities (in some layers), and by the paper that expands "
     "keywords and terms?", ("What decoder is used by paper that tags entities (in some layers)?",
                             "What decoder is used by paper that expands keywords and terms?")),
    ("The model with two encoders (one for content and one for speakers) and the CTC model: which speech model do "
     "both build on?", ("which speech model do model with two encoders (one for content and one for speakers) build "
                        "on?", "which speech model do CTC model build on?")),
])
def test_what_two_papers_both_do_is_asked_of_each_paper(question, questions):
    assert choice(question).questions == questions


@pytest.mark.parametrize("question, questions", [
    # "each" is the option
    ("compare language coverage: WECHSEL vs FOCUS. how many languages does each use?",
     ("how many languages does WECHSEL use?", "how many languages does FOCUS use?")),
    ("Two papers run on one consumer GPU: the sparse-quantized format, and the label-supervised finetuning. What model "
     "size does each fit?", ("What model size does sparse-quantized format fit?",
                             "What model size does label-supervised finetuning fit?")),
    # "which covers more X" asks how many X each covers; "which is bigger", how large each is
    ("which covers more low-resource languages: WECHSEL, or the approach that grafts an MT encoder into an LLM?",
     ("how many low-resource languages does WECHSEL cover?",
      "how many low-resource languages does approach that grafts an MT encoder into an LLM cover?")),
    ("Which one has more parameters, Chimera or Medusa?",
     ("how many parameters does Chimera have?", "how many parameters does Medusa have?")),
    ("Which one pits more methods against each other: MUSE or ReAGent?",
     ("how many methods does MUSE pit against each other?", "how many methods does ReAGent pit against each other?")),
    ("Which is bigger: the telecom model series, or GEB? Give both sizes.",
     ("how large is telecom model series?", "how large is GEB?")),
    ("Chimera vs Medusa: how big is each?", ("how big is Chimera?", "how big is Medusa?")),
    ("which uses more languages than the other: WECHSEL or FOCUS?",
     ("how many languages does WECHSEL use?", "how many languages does FOCUS use?")),
    # "How many X does A …, compared to the number of Y B …?": two questions, each of its own paper
    ("How many criteria does HELM measure per scenario compared to the number of properties MUSE checks?",
     ("How many criteria does HELM measure per scenario?", "how many properties MUSE checks?")),
    # "each" that is no subject, "more" that counts nothing: what is asked stays whole
    ("Chimera vs Medusa: which is faster on each benchmark?",
     tuple(prompts.OPTION_QUESTION.format(asked="which is faster on each benchmark", option=o)
           for o in ("Chimera", "Medusa"))),
    ("Which one is more accurate: Chimera or Medusa?",
     tuple(prompts.OPTION_QUESTION.format(asked="Which one is more accurate", option=o) for o in ("Chimera", "Medusa"))),
    ("which one uses more data than the other: WECHSEL or FOCUS?",
     tuple(prompts.OPTION_QUESTION.format(asked="which one uses more data than the other", option=o)
           for o in ("WECHSEL", "FOCUS"))),
])
def test_what_is_asked_of_each_option_is_a_question_about_it(question, questions):
    assert choice(question).questions == questions


@pytest.mark.parametrize("question", ["which papers prune Llama or Mistral?", "What is MEXA?",
                                      "Did they use LoRA, or full fine-tuning?", "Is it faster: A or B?",
                                      "Is there a model that handles both speech and text?",
                                      "Are both papers about speech?", "Chimera vs Medusa?",
                                      "how does LoRA compare to full fine-tuning?", "compare Chimera and Medusa",
                                      "e.g. for telling sizes apart vs for telling a hippo from an elephant: "
                                      "which encoder is better?",
                                      "What is the trade-off between accuracy vs latency for pruned models? Explain.",
                                      "Which is faster: Chimera or Medusa? And how much memory does each use?",
                                      # two things a sentence names are no pair unless each is asked about; "both"
                                      # of "tunes both A and B" is no option
                                      "The paper compares the encoder and the decoder. How many layers does each "
                                      "have?",
                                      "The model and the tokenizer: what does each use?",
                                      "How fast is Chimera compared to Medusa?",
                                      "A paper trains a matrix between it and a frozen vision model. Which system, "
                                      "one that tunes both its encoder and its decoder, did it beat?"])
def test_other_questions_are_not_choices(question):
    assert choice(question) is None


@pytest.mark.parametrize("question, options, questions", [
    # what "the first" and "the second" are asked, each of its own description
    ("Two papers clean up speech recognizer mistakes: one trains on audio from TTS, the other gives an LLM the "
     "top-N hypotheses. What WER does the first report, and which dataset did the second extend?",
     ("trains on audio from TTS", "gives an LLM the top-N hypotheses"),
     ("What WER does trains on audio from TTS report?", "which dataset did gives an LLM the top-N hypotheses "
                                                        "extend?")),
    # "each one" and "both" as the subject: the description in their place
    ("Two decoding papers keep a structure: one approximates the output distribution, the other reuses candidate "
     "tokens. What structure does each one keep?",
     ("approximates the output distribution", "reuses candidate tokens"),
     ("What structure does approximates the output distribution keep?",
      "What structure does reuses candidate tokens keep?")),
    # one asking sentence each; a description's decimal is part of it
    ("Two papers clean up speech recognizer mistakes: one reaches 1.5% WER, the other gives an LLM the top-N "
     "hypotheses. What data does the first train on? Which dataset did the second extend?",
     ("reaches 1.5% WER", "gives an LLM the top-N hypotheses"),
     ("What data does reaches 1.5% WER train on?", "Which dataset did gives an LLM the top-N hypotheses extend?")),
])
def test_two_papers_described_one_and_the_other_are_each_asked_their_part(question, options, questions):
    found = choice(question)
    assert (found.options, found.questions) == (options, questions)


def test_two_described_papers_whose_names_are_asked_are_a_list_not_a_choice():
    question = ("two papers i want to compare: one argues perplexity hides how much compression breaks llms, the "
                "other is a structural pruning method. what are they called?")
    assert choice(question) is None and is_list_question(question)
    assert not is_list_question("Two decoding papers keep a structure: one approximates the output distribution, "
                                "the other reuses candidate tokens. What structure does each one keep?")


def test_one_and_the_other_of_one_paper_are_no_two_papers():
    assert choice("The paper trains two draft heads: one predicts the next token, the other predicts two steps "
                  "ahead. How much speedup does it report?") is None


QUESTION = "Which reports the higher compression ratio: MaskLLM or SpQR?"


def test_each_option_is_answered_from_its_own_paper_and_the_answer_cites_both(fake_pipeline):
    answer = fake_pipeline.ask(QUESTION)
    prompts_seen = [call[-1]["content"] for call in fake_pipeline.llm.calls]
    assert len(prompts_seen) == 2
    assert prompts_seen[0].startswith("Excerpts:\n[1] MaskLLM") and "[2]" not in prompts_seen[0]
    assert prompts_seen[1].startswith("Excerpts:\n[2] SpQR") and "MaskLLM" not in prompts_seen[1]
    assert prompts_seen[1].endswith("Question: Which reports the higher compression ratio — what do the excerpts "
                                    "report for SpQR?")
    assert [c.title.split(":")[0] for c in answer.citations] == ["MaskLLM", "SpQR"]


def test_a_described_option_is_asked_by_its_papers_name(fake_pipeline):
    # Asked about "the method that isolates …", the model repeated the description and gave no figure.
    answer = fake_pipeline.ask("Which reports the higher compression ratio: MaskLLM, or the method that isolates "
                               "outlier weights and stores them in higher precision?")
    prompts_seen = [call[-1]["content"] for call in fake_pipeline.llm.calls]
    assert prompts_seen[1].endswith("Question: Which reports the higher compression ratio — what do the excerpts "
                                    "report for SpQR?")
    assert [c.title.split(":")[0] for c in answer.citations] == ["MaskLLM", "SpQR"]
    # a number is a qualifier the paper's name lacks ("the 7B Large Concept Model"): the description stays
    fake_pipeline.llm.calls.clear()
    fake_pipeline.ask("Which reports the higher compression ratio: MaskLLM, or the 3-bit method that isolates "
                      "outlier weights and stores them in higher precision?")
    assert fake_pipeline.llm.calls[1][-1]["content"].endswith("report for 3-bit method that isolates outlier "
                                                              "weights and stores them in higher precision?")



def test_an_options_excerpts_answer_what_is_asked_not_its_description(fake_pipeline):
    # Ranked by the description, SpQR's excerpts were the sentence that repeats it ("isolating outlier weights …
    # in higher precision"); by "how many bits does it use?", its sentences that state bits.
    fake_pipeline.ask("compare MaskLLM with the method that isolates outlier weights and stores them in higher "
                      "precision: how many bits does each use?")
    spqr = fake_pipeline.llm.calls[1][-1]["content"]
    assert spqr.endswith("Question: how many bits does SpQR use?")
    assert "3-4 bits per parameter" in spqr and "isolating outlier weights" not in spqr


def test_a_question_compared_to_another_count_is_asked_as_it_is_of_its_own_paper(fake_pipeline):
    answer = fake_pipeline.ask("How large are the models MaskLLM prunes, compared to the number of bits per "
                               "parameter SpQR compresses weights to?")
    prompts_seen = [call[-1]["content"] for call in fake_pipeline.llm.calls]
    assert prompts_seen[0].startswith("Excerpts:\n[1] MaskLLM")
    assert prompts_seen[0].endswith("Question: How large are the models MaskLLM prunes?")
    assert prompts_seen[1].startswith("Excerpts:\n[2] SpQR")
    assert prompts_seen[1].endswith("Question: how many bits per parameter SpQR compresses weights to?")
    assert [c.title.split(":")[0] for c in answer.citations] == ["MaskLLM", "SpQR"]


def test_an_option_the_model_cannot_answer_leaves_the_other(fake_pipeline):
    fake_pipeline.llm = ScriptedLLM("MaskLLM establishes semi-structured sparsity [1].", prompts.REFUSAL)
    answer = fake_pipeline.ask(QUESTION)
    assert not answer.abstained and [c.title.split(":")[0] for c in answer.citations] == ["MaskLLM"]


def test_options_that_find_the_same_paper_are_answered_as_one_question(fake_pipeline):
    fake_pipeline.ask("Which is larger: MaskLLM or MaskLLM's sparsity?")
    assert len(fake_pipeline.llm.calls) == 1


def test_options_that_name_no_paper_are_not_asked_apart(fake_pipeline):
    # "GLUE" and "SuperGLUE" are benchmarks: no title holds them, and one word describes no paper.
    fake_pipeline.ask("What accuracy does MaskLLM reach on both GLUE and SuperGLUE?")
    assert len(fake_pipeline.llm.calls) == 1


def test_what_two_papers_both_report_is_answered_from_each(fake_pipeline):
    answer = fake_pipeline.ask("Which sparsity do MaskLLM and SpQR both use?")
    prompts_seen = [call[-1]["content"] for call in fake_pipeline.llm.calls]
    assert [p.split("\n")[1].split(":")[0] for p in prompts_seen] == ["[1] MaskLLM", "[2] SpQR"]
    assert prompts_seen[1].endswith("Question: Which sparsity do SpQR use?")
    assert [c.title.split(":")[0] for c in answer.citations] == ["MaskLLM", "SpQR"]


def test_a_name_in_one_options_description_is_looked_for_in_that_options_paper_only(fake_pipeline):
    # "Nemotron-4" describes the MaskLLM option; SpQR's abstract never mentions it, and need not. (Said of the
    # SpQR option, its size would refuse SpQR's figure: the model gives a paper's figure for another model.)
    fake_pipeline.llm = ScriptedLLM("MaskLLM learns 2:4 masks [1].", "SpQR compresses weights to 3-4 bits [2].")
    answer = fake_pipeline.ask("Which compresses more: MaskLLM tested on Nemotron-4, or SpQR?")
    assert not answer.abstained, answer.reason
    assert [c.title.split(":")[0] for c in answer.citations] == ["MaskLLM", "SpQR"]
