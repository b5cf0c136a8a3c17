"""The claim checks, on hand-made answers: what is kept, what is dropped, and why."""

import pytest

from rag import prompts
from rag.grounding import (gives_nothing_asked, is_refusal, miscounted, missing_names, names_nothing,
                           states_no_quantity, verify)

from conftest import source

OWSM = source("OWSM-CTC: An Open Encoder-Only Speech Foundation Model",
              "OWSM-CTC is a novel encoder-only speech foundation model based on CTC. It is trained on 180k hours of "
              "public audio data for speech recognition, speech translation, and language identification.")
HELM = source("Holistic Evaluation of Language Models",
              "We present HELM. We evaluate models using 7 metrics across 16 core scenarios and 26 targeted "
              "scenarios.")
LSLM = source("Language Model Can Listen While Speaking",
              "We propose the listening-while-speaking language model (LSLM), an end-to-end system that can listen "
              "and speak at the same time. Experiments test command-based and voice-based FDM.")


def check(answer: str, question: str, sources, abstracts=None):
    return verify(answer, question, sources, abstracts or [p.text for p in sources])


def test_a_sentence_that_restates_the_question_keeps_its_answer():
    question = ("How many hours of audio trained the CTC-based, non-autoregressive speech model that does "
                "recognition, translation and language identification in one network?")
    answer = ("The CTC-based, non-autoregressive speech model that does recognition, translation and language "
              "identification in one network was trained on 180k hours of audio [1].")
    verified = check(answer, question, [OWSM, HELM])
    assert "180k hours" in verified.text and [c.n for c in verified.citations] == [1]
    assert [c.dropped for c in verified.checks] == [None]


def test_an_abbreviation_from_the_question_may_stand_for_a_word_of_the_paper():
    question = "How many hours of audio trained the CTC model that does recognition and language ID?"
    verified = check("The CTC model that does recognition and language ID was trained on 180k hours [1].", question,
                     [OWSM, HELM])
    assert [c.n for c in verified.citations] == [1]
    verified = check("Its BLEU score is 180k [1].", "What BLEU score does the CTC model get?", [OWSM, HELM])
    assert verified.checks[0].dropped == "BLEU is not in [1]"


def test_a_sentence_giving_one_papers_facts_to_another_is_dropped_with_its_reason():
    answer = "LSLM was evaluated with 7 targeted evaluations based on 26 targeted scenarios [2]."
    verified = check(answer, "How was LSLM evaluated?", [LSLM, HELM])
    assert verified.citations == [] and verified.text == ""
    assert verified.checks[0].dropped == "LSLM is not in [2]"


def test_numbers_must_be_in_the_paper_the_sentence_cites():
    verified = check("It is trained on 26 hours of public audio data [1].", "How much audio?", [OWSM, HELM])
    assert verified.checks[0].dropped == "number 26 is not in [1]"


def test_unsupported_sentences_are_dropped_and_supported_ones_kept():
    answer = "It is trained on 180k hours of public audio data [1]. The authors come from Kyoto University [1]."
    verified = check(answer, "How much audio trained it?", [OWSM])
    assert verified.text == "It is trained on 180k hours of public audio data [1]."
    assert [bool(c.dropped) for c in verified.checks] == [False, True]


def test_names_are_checked_against_the_whole_abstract_not_only_the_excerpt():
    excerpt_only = source(OWSM.title, "It is trained on 180k hours of public audio data.")
    answer = "OWSM-CTC is trained on 180k hours of public audio data [1]."
    assert check(answer, "how much audio?", [excerpt_only], [OWSM.text]).citations
    wrong = "The Whisper model is trained on 180k hours of public audio data [1]."
    assert check(wrong, "how much audio?", [excerpt_only], [OWSM.text]).checks[0].dropped == "Whisper is not in [1]"


def test_markers_of_the_model_are_kept_when_their_source_supports_the_sentence_else_corrected():
    verified = check("HELM uses 7 metrics and 26 targeted scenarios [1]. Bad marker [9].", "What does HELM measure?",
                     [OWSM, HELM])
    assert verified.text == "HELM uses 7 metrics and 26 targeted scenarios [2]." and verified.dropped_markers == 1


def test_abbreviations_do_not_end_a_sentence():
    vision = source("Vision", "CLIP tells hippo vs. elephant apart, e.g. in captioning.")
    verified = check("CLIP tells hippo vs. elephant apart, e.g. in captioning [1].", "what does CLIP do?", [vision])
    assert verified.text == "CLIP tells hippo vs. elephant apart, e.g. in captioning [1]."


@pytest.mark.parametrize("answer, refusal", [
    ("The authors are not mentioned in the excerpts.", True),
    (prompts.REFUSAL, True),
    ("OWSM-CTC is trained on 180k hours [1].", False),
    ("The retrieved papers do not answer this.", True),
    ("The aligned model does not answer 95% of harmful prompts [1].", False),
])
def test_refusals_in_the_models_own_words(answer, refusal):
    assert is_refusal(answer) is refusal


def test_a_sentence_about_two_papers_cites_both():
    fine = source("FineQuant: Fine-Grained Weight-Only Quantization", "FineQuant is a weight-only quantization method.")
    easy = source("EasyQuant: Data-free Quantization", "EasyQuant is a data-free weight-only quantization algorithm.")
    verified = check("Both FineQuant and EasyQuant perform weight-only quantization [1].",
                     "What type of quantization do FineQuant and EasyQuant both perform?", [fine, easy])
    assert verified.text == "Both FineQuant and EasyQuant perform weight-only quantization [1][2]."


def test_a_sentence_whose_answer_is_only_a_marker_answers_nothing():
    verified = check("The six models used to test the method are [1].", "Which six models were used to test the method?",
                     [OWSM])
    assert verified.citations == [] and verified.checks[0].dropped == "its answer is only a citation marker"
    verified = check("They come in various sizes, including [1].", "What sizes do they come in?", [OWSM])
    assert verified.checks[0].dropped == "its answer is only a citation marker"


def test_a_sentence_that_only_restates_a_wh_question_answers_nothing():
    verified = check("The model was trained on audio [1].", "How much audio was the model trained on?", [OWSM])
    assert verified.citations == [] and verified.checks[0].dropped == "it only restates the question"


def test_a_choice_answer_may_add_no_word_to_the_question():
    verified = check("OWSM-CTC is trained on more audio.", "Which is trained on more audio: OWSM-CTC or HELM?",
                     [OWSM, HELM])
    assert verified.text == "OWSM-CTC is trained on more audio [1]."


def test_a_number_must_be_in_a_sentence_about_the_same_thing():
    paper = source("Multilingual Summaries", "We cover 4 languages. Summaries are scored with ROUGE-L.")
    verified = check("It gets ROUGE-L scores of up to 4 [1].", "What ROUGE scores does it get?", [paper])
    assert verified.checks[0].dropped == "number 4 is in [1], but not about this"


PPO = source("Improving the Language Understanding Capabilities of Large Language Models Using Reinforcement Learning",
             "PPO exceeds zero-shot by 38.7 points on GLUE, while surpassing it by 28.8 points on SuperGLUE. "
             "Additionally, PPO outperforms BERT-large by 2.7 points on GLUE and 9.3 points on SuperGLUE.")


def test_a_number_is_dropped_when_another_figure_of_the_paper_is_the_one_said_of_its_names():
    question = "by how many points did the policy-gradient-tuned LLaMA2-7B beat BERT-large on SuperGLUE"
    verified = check("The tuned model beat BERT-large by 28.8 points on SuperGLUE [1].", question, [PPO])
    assert verified.checks[0].dropped == "number 28.8 is in [1], but not said of BERT-large"
    assert check("It beat BERT-large by 9.3 points on SuperGLUE [1].", question, [PPO]).text == (
        "It beat BERT-large by 9.3 points on SuperGLUE [1].")


def test_a_figure_is_not_given_as_the_one_on_a_benchmark_another_figure_is_on():
    answer = "PPO outperforms BERT-large by 2.7 points on SuperGLUE [1]."
    verified = check(answer, "by how many points does it beat BERT-large on SuperGLUE?", [PPO])
    assert verified.checks[0].dropped == "number 2.7 is in [1], but not said of SuperGLUE"
    answer = "PPO outperforms BERT-large by 2.7 points on GLUE [1]."
    assert check(answer, "by how many points does it beat BERT-large on GLUE?", [PPO]).text == answer


def test_a_number_is_rebound_only_to_a_figure_of_its_unit_said_of_its_own_clauses_names():
    question = "How did PPO do against zero-shot prompting and BERT-large?"
    answer = "PPO beat zero-shot by 38.7 points, and BERT-large by 9.3 points on SuperGLUE [1]."
    assert check(answer, question, [PPO]).text == answer  # each figure with the names of its own clause
    baselines = source("Baselines", "We compare with GPT-3 and PaLM on MMLU. Our model reaches 72.1 on MMLU.")
    answer = "Compared with GPT-3 and PaLM, the model reaches 72.1 on MMLU [1]."
    assert check(answer, "What does it reach on MMLU?", [baselines]).text == answer  # GPT-3's 3 is no figure


def test_a_number_next_to_the_papers_own_name_or_restated_from_the_question_is_not_rebound():
    quant = source("FineQuant: Fine-Grained Weight-Only Quantization",
                   "FineQuant needs 2 times less memory on GPUs. It reaches up to 3.65 times higher throughput on GPUs.")
    answer = "FineQuant reaches 3.65 times higher throughput on GPUs [1]."
    assert check(answer, "How fast is it?", [quant]).text == answer
    renamed = source("Fine-Grained Weight-Only Quantization", quant.text)  # the name is not its title's here
    assert check(answer, "How fast is it?", [renamed]).checks[0].dropped == (
        "number 3.65 is in [1], but not said of FineQuant")
    question = "Did PPO beat BERT-large by 28.8 points on SuperGLUE, or by less?"
    assert check("PPO beat BERT-large by 9.3 points rather than 28.8 on SuperGLUE [1].", question, [PPO]).text == (
        "PPO beat BERT-large by 9.3 points rather than 28.8 on SuperGLUE [1].")


def test_a_bare_number_is_about_what_the_question_asks():
    helm = source("Holistic Evaluation of Language Models",
                  "We benchmark 30 prominent language models. Results span 16 core scenarios.")
    assert check("[1] 30", "How many language models were benchmarked in HELM?", [helm]).text == "30 [1]"
    verified = check("16", "How many languages does it cover?", [helm])
    assert verified.checks[0].dropped == "number 16 is in [1], but not about this"


def test_list_lines_are_sentences_of_their_own():
    verified = check("They differ:\n- FineQuant uses 4 bits [1].\n- It reaches 3.65 times higher throughput [1].",
                     "how do they differ?", [source("FineQuant", "FineQuant uses 4 bits and reaches 3.65 times "
                                                               "higher throughput.")])
    assert [c.sentence for c in verified.checks][1:] == ["FineQuant uses 4 bits.", "It reaches 3.65 times higher throughput."]


SURVEY = source("Aligning Multimodal LLM with Human Preference: A Survey",
                "We explore four key aspects: the scenarios covered by alignment algorithms and the benchmarks used "
                "to evaluate alignment algorithms. The model is tuned on 10 million samples.")


def test_a_how_many_answer_must_count_what_the_question_counts():
    verified = check("There are four key aspects of alignment algorithms [1].",
                     "How many alignment algorithms does the survey catalogue?", [SURVEY])
    assert verified.text == ""
    assert verified.checks[0].dropped == "the question asks how many algorithms; [1] gives four key aspects"


def test_a_count_must_count_the_same_thing_in_the_source():
    tiny = source("TinyHelen", "We created a leaner suite: 71M Leaner-Pretrain, 7M Leaner-Instruct. PPO improves "
                               "performance, with a 6.3-point gain over SFT. It is trained on 180k hours of audio.")
    assert miscounted("It covers 7 languages.", tiny.text, "How many languages does it cover?", "[1]") == (
        "the question asks how many languages; [1] gives 7 languages")
    # the same value however written; a size is no other count
    assert miscounted("It was trained on 180 thousand hours.", tiny.text, "how many hours of audio?", "[1]") is None
    assert miscounted("It has 7 billion parameters.", "a 7B model", "how many parameters does it have?", "[1]") is None
    helm = "We evaluate 30 prominent language models on 42 scenarios."
    assert miscounted("It uses 30 scenarios.", helm, "How many scenarios does it use?", "[1]") == (
        "the question asks how many scenarios; [1] gives 30 scenarios")
    for answer, question in [("PPO improves by 6.3 points over SFT [1].", "how many points does PPO gain?"),
                             ("It is trained on 180k hours of audio [1].", "how many hours of audio?")]:
        assert [c.dropped for c in check(answer, question, [tiny]).checks] == [None], answer


def test_a_sentence_whose_fact_is_in_a_source_is_kept_however_few_of_its_words_are():
    # "saw" and "approximately" are 2 of its 3 words the question lacks; its one fact is the source's
    flm = source("FLM-101B", "We demonstrate that an LLM with 101B parameters and 0.31TB tokens can be trained on "
                             "a 100K budget.")
    verified = check("The roughly-100B open model trained on a budget saw approximately 0.31TB tokens.",
                     "The roughly-100B open model trained on a budget: how many training tokens did it see?",
                     [OWSM, flm])
    assert [c.n for c in verified.citations] == [2] and "0.31TB" in verified.text
    verified = check("The roughly-100B open model trained on a budget saw approximately 0.52TB tokens.",
                     "The roughly-100B open model trained on a budget: how many training tokens did it see?",
                     [OWSM, flm])
    assert verified.text == ""


def test_a_count_may_use_the_papers_word_for_what_is_counted():
    verified = check("It was tuned on 10 million instruction examples [1].",
                     "How many instruction examples was it tuned on?", [SURVEY])
    assert verified.text == "It was tuned on 10 million instruction examples [1]."
    verified = check("It was tuned on 10 million samples [1].", "How many examples was it tuned on?", [SURVEY])
    assert [c.dropped for c in verified.checks] == [None]
    tool = source("TL-Training", "It matches closed-source LLMs using only 1,217 training data points.")
    for question in "how many training examples did it use?", "how many data points did it use?":
        verified = check("It used 1,217 training data points [1].", question, [tool])
        assert [c.dropped for c in verified.checks] == [None], question


def test_an_abbreviation_from_the_question_may_stand_for_the_papers_words():
    paper = source("Augmentation Invariant Discrete Representation for Generative Spoken Language Modeling",
                   "We make the units of generative spoken language models robust to time-stretching. We evaluate "
                   "speech-to-speech translation on Spanish-English and French-English.")
    question = "which language pairs does the paper that makes speech-LM units hold up under time-stretching use?"
    verified = check("The paper that makes speech-LM units hold up used Spanish-English and French-English [1].",
                     question, [paper])
    assert [c.dropped for c in verified.checks] == [None]
    verified = check("Its TTS units used Spanish-English [1].", "Which TTS units were used?", [paper])
    assert verified.checks[0].dropped == "TTS is not in [1]"


def test_a_preamble_about_the_excerpts_is_left_out_of_the_answer():
    verified = check("The excerpts report that OWSM-CTC is trained on 180k hours of audio [1].",
                     "How much audio is OWSM-CTC trained on?", [OWSM])
    assert verified.text == "OWSM-CTC is trained on 180k hours of audio [1]."


def test_a_preamble_is_not_a_claim_the_source_must_hold():
    # "excerpts" and "report" are no words of the source: counted as claims, they left "2.7T" a third of support.
    paper = source("Large Concept Models: Language Modeling in a Sentence Representation Space",
                   "We then scale one architecture to a model size of 7B parameters and training data of about "
                   "2.7T tokens.")
    verified = check("The excerpts report that the 7B Large Concept Model was trained on about 2.7T tokens.",
                     "Which was pre-trained on more tokens: the 7B Large Concept Model or the speech-text model trained "
                     "on synthetic interleaved data?", [paper])
    assert [c.dropped for c in verified.checks] == [None]
    assert verified.text == "The 7B Large Concept Model was trained on about 2.7T tokens [1]."
    # asked "… — what do the excerpts report for X?", the model echoes it without "that"
    verified = check("The excerpts report a training set of about 2.7T tokens for the 7B Large Concept Model.",
                     "Which was pre-trained on more tokens — what do the excerpts report for 7B Large Concept Model?",
                     [paper])
    assert verified.text == "A training set of about 2.7T tokens for the 7B Large Concept Model [1]."


def test_a_marker_as_subject_leaves_no_verb_without_its_subject():
    verified = check("Yes, [1] indicates that OWSM-CTC is trained on 180k hours of public audio data.",
                     "Is there a speech model trained on 180k hours of audio?", [OWSM])
    assert verified.text == "Yes, OWSM-CTC is trained on 180k hours of public audio data [1]."


PRUNER = source("LLM-Pruner: On the Structural Pruning of Large Language Models",
                "We validate the LLM-Pruner on three LLMs, including LLaMA, Vicuna, and ChatGLM. The code is available "
                "at: https://github.com/horseee/LLM-Pruner")


def test_a_word_or_name_inside_a_web_address_supports_no_claim_but_the_address_itself_does():
    verified = check("LLM-Pruner was proposed by horseee [1].", "Who proposed LLM-Pruner?", [PRUNER])
    assert not verified.citations and verified.checks[0].dropped == "no source says this"
    verified = check("LLM-Pruner was validated on LLaMA and Vicuna by Horseee [1].", "Who tested LLM-Pruner?",
                     [PRUNER])
    assert not verified.citations and verified.checks[0].dropped == "Horseee is not in [1]"
    verified = check("The code is at https://github.com/horseee/LLM-Pruner.", "Where is the code of LLM-Pruner?",
                     [PRUNER])
    assert verified.text == "The code is at https://github.com/horseee/LLM-Pruner [1]."
    verified = check("The code is at https://github.com/other/LLM-Pruner [1].", "Where is the code of LLM-Pruner?",
                     [PRUNER])
    assert not verified.citations


def test_a_quantity_answer_must_state_a_quantity_of_its_own():
    question = "How long did it take to distill the 770M summarization model?"
    assert states_no_quantity(question, "It took 770M parameters to distill the 770M model [1].") == (
        "the question asks how long; the answer's only quantities (770M) are the question's own")
    assert states_no_quantity(question, "It took 3 days on 8 GPUs to distill the 770M model [1].") is None
    assert states_no_quantity(question, "It took three days to distill the 770M model [1].") is None
    assert states_no_quantity("How many tokens was Llama 2 pretrained on?", "On 2 trillion tokens [1].") is None
    assert states_no_quantity("How fast is the 4-bit model?", "The 4-bit model is twice as fast [1].") is None
    assert states_no_quantity("Which reaches the higher ratio, 16x or 4x?", "The 16x one [1].") is None
    muse = "MUSE: Machine Unlearning Six-Way Evaluation for Language Models"
    assert states_no_quantity("how many of its scenarios are new?", f"{muse} [1]", [muse]) == (
        "the question asks how many scenarios; the answer states no number")


def test_an_answer_to_which_models_or_datasets_must_name_one_the_question_does_not():
    question = "Which two encoders does WavLLM use?"
    assert names_nothing(question, "WavLLM uses dual encoders [1].") == (
        "the question asks which two encoders; the answer names none")
    assert names_nothing(question, "WavLLM uses a Whisper encoder and a WavLM encoder [1].") is None
    assert names_nothing("What model does CosyVoice use?", "A conditional flow matching model [1].") is None
    # a quote's opening mark makes no name of its first word
    question = "which base model was it fine-tuned from?"
    assert names_nothing(question, "“Only one base model does not lead to privacy leakage.” [1]") == (
        "the question asks which base model; the answer names none")
    # systems are named things too; techniques and algorithms are not ("speculative decoding")
    assert names_nothing("which TTS systems exactly did they use?", "They used two systems [1].") == (
        "the question asks which tts systems; the answer names none")
    assert names_nothing("which decoding algorithm makes it faster?", "Speculative decoding [1].") is None
    assert names_nothing("which model-shrinking techniques does it go over?", "Pruning and quantization [1].") is None


def test_an_answer_to_which_languages_must_name_a_language():
    question = "which four languages did they test?"
    assert names_nothing(question, "They tested RoBERTa and LLaMA 2 across four languages [1].") == (
        "the question asks which four languages; the answer names none")
    assert names_nothing(question, "They tested German, Swahili, Hindi and Thai [1].") is None
    assert names_nothing("which language pairs were used?", "Spanish-English and French-English [1].") is None
    # programming languages, and a language model, are named things like any other
    assert names_nothing("Which programming languages does CodeGen2 cover?", "Python and Java [1].") is None
    assert names_nothing("Which specific language model did they use?", "They used GPT-2 [1].") is None
    assert names_nothing("The benchmark which scores 30 language models: how many findings?", "25 findings [1].") is None
    assert names_nothing("Which language benchmarks did they evaluate on?", "GLUE and SuperGLUE [1].") is None
    # how many, when they are not named; programming languages; languages of fewer speakers
    assert names_nothing("Which languages does Whisper support?", "It supports 99 languages [1].") is None
    assert names_nothing("Which language is the toolkit written in?", "Python [1].") is None
    assert names_nothing("Which languages does MasakhaNER cover?", "Luganda, Luo and Nigerian Pidgin [1].") is None


def test_a_when_question_is_answered_by_a_time():
    question = "when are they releasing the code?"
    assert gives_nothing_asked(question, "The code and models will be made open-source [1].") == (
        "the question asks when; the answer states no time")
    assert gives_nothing_asked(question, "It will be available after further security checks [1].") is None
    assert gives_nothing_asked(question, "The code was released in March 2024 [1].") is None
    assert gives_nothing_asked(question, "The code is available at https://github.com/x [1].") is None  # out already
    assert gives_nothing_asked("In the TTS work, when a reference is added, how much worse is WER?", "By 14pp [1].") is None
    assert gives_nothing_asked("When does speculative decoding fail?", "When the draft is poorly aligned [1].") is None


def test_a_question_about_a_license_is_answered_by_one():
    question = "what license will LI-DiT-10B be released under? can I use it commercially?"
    assert gives_nothing_asked(question, "LI-DiT-10B will be available after further security checks [1].") == (
        "the question asks about a license; the answer names none")
    assert gives_nothing_asked(question, "It is released under the Apache 2.0 license [1].") is None
    assert gives_nothing_asked("can I use the weights commercially?", "Only for non-commercial research [1].") is None
    assert gives_nothing_asked("when will LI-DiT-10B be released?", "After further security checks [1].") is None
    # a license in the description, or commercial systems, ask for none
    assert gives_nothing_asked("the apache-licensed model: how many languages?", "Seven [1].") is None
    assert gives_nothing_asked("does it beat commercially available ASR?", "Yes, by 2 WER [1].") is None
    assert gives_nothing_asked("can I use LI-DiT commercially?", "It surpasses commercial models [1].") == (
        "the question asks about a license; the answer names none")


def test_a_source_lacks_the_questions_names_it_never_mentions_unless_they_name_another_source():
    question = "Does the OWSM-CTC speech model beat CLIP and LSLM on language ID?"  # OWSM-CTC: the title of [1]
    sources = [OWSM, LSLM]
    assert missing_names(question, sources, [p.text for p in sources]) == {1: ["CLIP", "LSLM"], 2: ["CLIP", "ID"]}



HIDDEN = source("Parallel Decoding via Hidden Transfer for Lossless Large Language Model Acceleration",
                "We propose hidden transfer: pseudo hidden states of future tokens are predicted in one forward pass.")
CHIMERA = source("Chimera: A Lossless Decoding Method for Accelerating Large Language Models Inference",
                 "Chimera predicts several tokens with a lightweight draft model and reaches a 2.7x speedup.")


def test_a_sentence_that_describes_one_paper_with_another_papers_fact_is_dropped():
    question = "What speedup does the hidden-transfer parallel decoding method reach?"
    answer = "The hidden-transfer parallel decoding method reaches a 2.7x speedup [2]."
    sources, abstracts = [HIDDEN, CHIMERA], [HIDDEN.text, CHIMERA.text]
    assert [c.dropped for c in verify(answer, question, sources, abstracts).checks] == [None]
    verified = verify(answer, question, [HIDDEN, CHIMERA], [HIDDEN.text, CHIMERA.text], rare={"hidden", "transfer"})
    assert verified.citations == []
    assert [c.dropped for c in verified.checks] == ["the question's hidden-transfer describes [1], not [2]"]
    # The paper that has the description's words keeps the fact it states.
    kept = verify("The hidden-transfer method predicts pseudo hidden states of future tokens [1].", question,
                  [HIDDEN, CHIMERA], [HIDDEN.text, CHIMERA.text], rare={"hidden", "transfer"})
    assert [c.n for c in kept.citations] == [1]


def test_a_sentence_citing_a_paper_with_less_of_the_description_than_another_is_dropped():
    zett = source("Zero-Shot Tokenizer Transfer", "We train a hypernetwork to swap a model's tokenizer for an "
                                                  "arbitrary one.")
    retrofit = source("Retrofitting LMs with Dynamic Tokenization", "A hypernetwork embeds merged subwords. On "
                                                                     "Mistral-7B, inputs shrink by 40%.")
    question = "the hypernetwork approach for swapping a tokenizer for an arbitrary one: how much shorter are inputs?"
    answer = "The hypernetwork approach for swapping a tokenizer for an arbitrary one shortens inputs by 40% [2]."
    rare = {"hypernetwork", "swap", "arbitrari"}
    verified = verify(answer, question, [zett, retrofit], [zett.text, retrofit.text], rare=rare)
    assert [c.dropped for c in verified.checks] == [
        "the question's hypernetwork, swapping, arbitrary describe [1], not [2]"]
    # half of the description is enough: the words shared with another paper do not outvote it
    answer = "The hypernetwork approach for swapping a tokenizer shortens inputs by 40% [2]."
    assert [c.dropped for c in verify(answer, question, [zett, retrofit], [zett.text, retrofit.text],
                                      rare=rare).checks] == [None]


def test_a_paper_that_spells_out_the_questions_acronym_holds_it():
    noisy = source("Large Language Models are Efficient Learners of Noise-Robust Speech Recognition",
                   "It reaches up to 53.9% correction improvement in terms of word error rate.")
    denoising = source("Denoising LM", "DLM achieves 1.5% word error rate (WER) on test-clean.")
    question = "is there an LLM that fixes noisy transcripts? how much did it improve WER?"
    verified = verify("It improved the WER by up to 53.9% [1].", question, [noisy, denoising],
                      [noisy.text, denoising.text], rare={"wer"})
    assert [c.dropped for c in verified.checks] == [None] and [c.n for c in verified.citations] == [1]


def test_a_who_question_is_answered_by_a_name_not_by_the_papers_title():
    title = "MUSE: Machine Unlearning Six-Way Evaluation for Language Models"
    answer = f'The paper "{title}" was written by the authors of the paper [1].'
    assert names_nothing("who wrote it? (about MUSE)", answer, [title]) == (
        "the question asks who; the answer names none")
    assert names_nothing("who wrote it? (about MUSE)", "It was written by Weijia Shi and others [1].", [title]) is None
    assert names_nothing("what does it study?", answer, [title]) is None


LSLM = source("Language Model Can Listen While Speaking",
              "We propose the listening-while-speaking language model (LSLM), which detects turn-taking in real time.")
WAVLLM = source("WavLLM: Towards Robust and Adaptive Speech Large Language Model",
                "WavLLM is evaluated on universal speech benchmarks and specialized datasets.")


def test_a_pronoun_subject_citing_another_paper_than_the_sentence_before_is_dropped():
    question = "is there a voice model that listens while it talks? how was it evaluated?"
    verified = check("Yes, LSLM listens while speaking [1]. It was evaluated on universal speech benchmarks [2].",
                     question, [LSLM, WAVLLM])
    assert [c.dropped for c in verified.checks] == [None, "its \"It\" is [1]'s subject, but the sentence cites [2]"]
    assert verified.text == "Yes, LSLM listens while speaking [1]."
    # the same paper's pronoun stays; so does a line of its own (a choice question's answer has one per paper)
    verified = check("WavLLM is evaluated on speech benchmarks [2]. It is evaluated on specialized datasets [2].",
                     "how was WavLLM evaluated?", [LSLM, WAVLLM])
    assert [c.dropped for c in verified.checks] == [None, None]
    verified = check("LSLM detects turn-taking in real time [1].\nIt is evaluated on universal speech benchmarks [2].",
                     "which is evaluated on benchmarks: LSLM or WavLLM?", [LSLM, WAVLLM])
    assert [c.dropped for c in verified.checks] == [None, None]
