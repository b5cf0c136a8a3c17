"""Follow-ups resolved from what the conversation knows, with the fake models; the terminal chat."""

import io
import json

import pytest

from rag import chat, prompts
from rag.conversation import (_DESCRIPTION, Conversation, Turn, build_rewrite_messages, clean_rewrite, compact,
                              description)
from rag.pipeline import Pipeline

from fakes import ScriptedLLM

A = ("a", "Speech Paper: Listening While Speaking")
B = ("b", "Quantization Paper: Four Bits Are Enough")
C = ("c", "Pruning Paper: Removing Heads")
D = ("d", "MEXA: Multilingual Evaluation")
PRUNER = "LLM-Pruner: On the Structural Pruning of Large Language Models"


def conversation_after(pipeline, papers, question="which papers study efficiency?"):
    return Conversation(pipeline, [Turn(question, question, "standalone", list(papers), "answer [1].")])


@pytest.mark.parametrize("question, how, scope, standalone", [
    ("which of those use LoRA?", "narrowed", [A, B, C], "which papers use LoRA?"),
    ("Do any of them report results on LLaMA?", "narrowed", [A, B, C], "Do any papers report results on LLaMA?"),
    ("tell me more about the second one", "position", [B], "tell me more about the second one (about Quantization Paper)"),
    ("what did the last paper find?", "position", [C], None),
    ("how was it evaluated?", "subject", [A], "how was it evaluated? (about Speech Paper)"),
    ("who are the authors?", "subject", [A], None),
    ("how big is the model?", "subject", [A], None),
    ("what do they have in common?", "subject", [A, B, C], "what do they have in common?"),
    ("What dataset does the model that reads charts use?", "standalone", [], None),
    ("Are there models built for telecom? What sizes do they come in?", "standalone", [], None),
    ("How much training data did that take?", "subject", [A], None),
    ("And which of the vocabulary papers ran experiments on RoBERTa?", "narrowed", [A, B, C],
     "And which papers ran experiments on RoBERTa?"),
    ("How much higher throughput does FineQuant reach?", "standalone", [], None),
    ("In the co-design that gives each block of weights its own number format, how big is a block?", "standalone",
     [], None),
    ("Ok, which of those use LoRA?", "narrowed", [A, B, C], "Ok, which papers use LoRA?"),
    # "those" are the algorithms, "they" the previous paper; the approach described is the subject of "its".
    ("How many algorithms did they test, and how many of those avoided leakage?", "subject", [A, B, C], None),
    ("What accuracy did the approach that classifies tables with an LLM reach on its tests?", "standalone", [], None),
    # The user says a new topic starts: its "they" is no pointer back.
    ("Switching topics: how do they correct transcripts of noisy audio?", "switched", [],
     "how do they correct transcripts of noisy audio?"),
    ("and which deal with audio or images?", "narrowed", [A, B, C], "and which papers deal with audio or images?"),
    ("which ones actually output images?", "narrowed", [A, B, C], "which papers actually output images?"),
    ("which ones are better?", "standalone", [], None),  # a comparison is not a narrowing
    # One answer read from the previous papers together: a choice among them, not each one judged alone.
    ("of those two, which one needs no parallel data?", "among", [A, B, C],
     "of these papers, which one needs no parallel data?"),
    ("which of those is fastest?", "among", [A, B, C], "which of these papers is fastest?"),
    ("And between them, who reports the larger speedup?", "among", [A, B, C],
     "And between these papers, who reports the larger speedup?"),
    ("of the three, which one is fastest?", "among", [A, B, C], "of these papers, which one is fastest?"),
    ("which of them has more parameters?", "among", [A, B, C], "which of these papers has more parameters?"),
    # a subset asked of the previous papers: each is judged
    ("of those, which use LoRA?", "narrowed", [A, B, C], "which papers use LoRA?"),
    ("among them, which report LLaMA results?", "narrowed", [A, B, C], "which papers report LLaMA results?"),
    ("which of those use more than 7B parameters?", "narrowed", [A, B, C], "which papers use more than 7B parameters?"),
    ("which does it compare against?", "subject", [A], None),  # a question about the paper just discussed
    ("New question answering datasets: which are multilingual?", "standalone", [], None),  # no switch, kept whole
    ("Thanks! which ones use LoRA?", "narrowed", [A, B, C], "Thanks! which papers use LoRA?"),
    ("the quantization paper: how many bits does it use?", "description", [B], None),
    ("the paper: how many bits does it use?", "subject", [A], None),  # words every listed paper has name none
    ("the key idea of the paper, what is it?", "subject", [A], None),  # "the paper": the one just discussed
    # two papers the question describes itself: "the first" is the first of its own, not of the list
    ("Two papers prune LLMs: one learns 2:4 masks, the other removes coupled structures. What does the first one "
     "prune?", "standalone", [], None),
])
def test_follow_ups_are_scoped_to_the_previous_papers(fake_pipeline, question, how, scope, standalone):
    resolved = conversation_after(fake_pipeline, [A, B, C]).resolve(question)
    assert (resolved.how, resolved.scope) == (how, scope)
    assert resolved.standalone == (standalone or (question if how == "standalone" else resolved.standalone))
    assert fake_pipeline.llm.calls == []  # none of these needs the LLM


def test_they_after_a_question_for_one_paper_is_the_paper_found_first(fake_pipeline):
    first = "is there a simple way to initialize new embeddings without cross-lingual embeddings?"
    conversation = conversation_after(fake_pipeline, [A, B], first)
    assert conversation.resolve("which four languages did they test?").scope == [A]
    assert conversation.resolve("what do they have in common?").scope == [A, B]  # asks about them all
    assert conversation_after(fake_pipeline, [A, B]).resolve("which four languages did they test?").scope == [A, B]


def test_going_back_to_an_earlier_list_narrows_that_list(fake_pipeline):
    first = "Which papers run experiments with a Mistral model?"
    conversation = Conversation(fake_pipeline, [Turn(first, first, "standalone", [A, B, C], "…"),
                                                Turn("which of those are about speech?", "…", "narrowed", [A, D], "…")])
    resolved = conversation.resolve("Going back to all the Mistral papers: which of them deal with multilingual data?")
    assert (resolved.how, resolved.scope) == ("narrowed", [A, B, C])
    assert resolved.standalone == "which papers deal with multilingual data?"


def test_the_other_one_of_two_is_the_paper_the_last_turn_was_not_about(fake_pipeline):
    conversation = conversation_after(fake_pipeline, [A, B])
    conversation.turns.append(Turn("the speech one: how long?", "…", "description", [A], "1,024K tokens [1]."))
    resolved = conversation.resolve("and the other one: what's the trick it uses?")
    assert (resolved.how, resolved.scope) == ("position", [B])
    resolved = conversation.resolve("how does it compare with the other one?")  # both: the one discussed, the other
    assert (resolved.how, resolved.scope) == ("position", [A, B])


def test_the_other_one_of_more_papers_is_the_rest_best_matching_the_question(fake_pipeline):
    papers = fake_pipeline.retrieve("pruning speech recognition quantization").papers[:3]
    shown = [(p.paper_id, p.title) for p in papers]
    conversation = conversation_after(fake_pipeline, shown)
    conversation.turns.append(Turn("the first one: how fast?", "…", "description", [shown[0]], "2x [1]."))
    for wanted in shown[1:]:
        words = " ".join(wanted[1].split(":")[-1].split()[:4])
        resolved = conversation.resolve(f"and the other one, what does it say about {words}?")
        assert (resolved.how, resolved.scope) == ("position", [wanted])


def test_the_other_one_after_a_list_of_one_is_a_candidate_the_list_left_out(fake_pipeline):
    question = "which papers do structural pruning of large language models?"
    found = [(p.paper_id, p.title) for p in fake_pipeline.retrieve(question).papers[:2]]
    conversation = conversation_after(fake_pipeline, found[:1], question)
    conversation.turns.append(Turn("how fast is it?", "…", "subject", found[:1], "2x [1]."))
    resolved = conversation.resolve("and the other one, how does it prune?")
    assert resolved.how == "position" and resolved.scope and resolved.scope != found[:1]


def test_a_place_in_a_list_that_found_one_paper_is_not_a_place_in_an_earlier_list(fake_pipeline):
    conversation = conversation_after(fake_pipeline, [A, B])
    conversation.turns.append(Turn("which papers decode faster?", "which papers decode faster?", "standalone", [C],
                                   "- Pruning Paper [1]"))
    assert conversation.resolve("how much faster is the second one?").scope != [B]


def test_the_other_one_of_the_two_papers_shown_after_a_list_of_one(fake_pipeline):
    conversation = conversation_after(fake_pipeline, [A])
    conversation.turns.append(Turn("the one with memory units: how long?", "…", "description", [B], "1,024K [1]."))
    assert conversation.resolve("and what's the trick in the other one?").scope == [A]


def test_a_described_paper_is_picked_among_the_previous_ones(fake_pipeline):
    papers = fake_pipeline.retrieve("pruning speech recognition quantization").papers[:3]
    conversation = conversation_after(fake_pipeline, [(p.paper_id, p.title) for p in papers])
    wanted = papers[1]
    resolved = conversation.resolve(f"what does the {wanted.title.split()[0]} one do?")
    assert resolved.how == "description" and resolved.scope == [(wanted.paper_id, wanted.title)]


def test_a_longer_description_before_the_question_picks_that_paper(fake_pipeline):
    papers = fake_pipeline.retrieve("pruning speech recognition quantization").papers[:3]
    conversation = conversation_after(fake_pipeline, [(p.paper_id, p.title) for p in papers])
    conversation.turns.append(Turn("what is it?", "what is it?", "subject", [(papers[0].paper_id, papers[0].title)],
                                   "…"))  # "it" would be this one
    wanted = papers[1]
    resolved = conversation.resolve(f"and the method called {wanted.title.split(':')[0]}, how fast is it?")
    assert resolved.how == "description" and resolved.scope == [(wanted.paper_id, wanted.title)]


def test_references_after_a_turn_about_one_paper_point_into_the_last_list(fake_pipeline):
    papers = fake_pipeline.retrieve("pruning speech recognition quantization").papers[:3]
    listed = [(p.paper_id, p.title) for p in papers]
    conversation = conversation_after(fake_pipeline, listed)
    conversation.turns.append(Turn("the first one?", "the first one?", "position", listed[:1], "answer [1]."))
    assert conversation.resolve("and the third one?").scope == [listed[2]]
    wanted = papers[1]
    resolved = conversation.resolve(f"and the {wanted.title.split()[0]} one, how fast is it?")
    assert resolved.how == "description" and resolved.scope == [listed[1]]
    assert conversation.resolve("how was it evaluated?").scope == listed[:1]  # "it": the paper just discussed


def test_a_description_is_matched_by_its_own_words_not_by_what_is_asked_about_the_paper():
    for question, clause in [("the training-free one: how big a FLOPs reduction does it get?", "training-free"),
                             ("And the one aimed at noisy conditions, how large is its WER gain?",
                              "aimed at noisy conditions"),
                             ("what does the speech one do?", "speech")]:
        assert description(question, _DESCRIPTION.search(question)) == clause


def test_a_description_that_fits_a_paper_the_answer_did_not_show_picks_that_paper(fake_pipeline):
    shown = fake_pipeline.retrieve("multilingual evaluation alignment").papers[0]
    elsewhere = fake_pipeline.retrieve("structural pruning of large language models").papers[0]
    conversation = conversation_after(fake_pipeline, [(shown.paper_id, shown.title)], "what does MEXA evaluate?")
    resolved = conversation.resolve("and the one about structural pruning of large language models?")
    assert resolved.how == "description" and resolved.scope == [(elsewhere.paper_id, elsewhere.title)]


def test_a_paper_the_list_missed_is_one_its_question_found_not_any_paper(fake_pipeline):
    question = "which papers study multilingual evaluation and alignment?"
    candidates = fake_pipeline.retrieve(question, 10).papers
    shown, missed = candidates[:2], candidates[-1]
    conversation = conversation_after(fake_pipeline, [(p.paper_id, p.title) for p in shown], question)
    resolved = conversation.resolve(f"and the one about {missed.title.split(':')[0].lower()}?")
    assert resolved.scope == [(missed.paper_id, missed.title)]
    pruner = fake_pipeline.retrieve("structural pruning of large language models").papers[0]
    assert pruner.paper_id not in {p.paper_id for p in candidates}
    resolved = conversation.resolve("and the one about structural pruning of large language models?")
    assert resolved.how == "description" and resolved.scope[0][0] in {p.paper_id for p in candidates}


def test_elliptical_follow_ups_are_rewritten_by_one_short_llm_call(fake_pipeline):
    fake_pipeline.llm = llm = ScriptedLLM("Standalone question: Does LLM-Pruner work for German?\nExtra.")
    conversation = conversation_after(fake_pipeline, [A], "how do they prune Llama?")
    resolved = conversation.resolve("what about German?")
    assert (resolved.how, resolved.standalone, resolved.scope) == ("rewritten", "Does LLM-Pruner work for German?", [])
    assert llm.max_tokens == [60] and llm.calls == [build_rewrite_messages(conversation.turns, "what about German?")]


def test_rewrite_prompt_has_the_last_two_turns_with_short_answers(fake_pipeline):
    turns = [Turn("first question?", "first question?", "standalone", [], "old answer"),
             Turn("how do they prune Llama?", "how do they prune Llama?", "standalone", [A], "LLM-Pruner prunes [1]. " * 20),
             Turn("What is MEXA?", "What is MEXA?", "standalone", [B], "[1]")]
    text = build_rewrite_messages(turns, "which languages does it cover?")[1]["content"]
    assert "first question?" not in text and "old answer" not in text
    assert "User: how do they prune Llama?" in text and "Papers: Quantization Paper" in text
    assert "[1]" not in text and len(text) < 700  # every prompt token costs time on a CPU
    assert compact("word " * 100).endswith(" …")


@pytest.mark.parametrize("reply", ["", "   \n", "x" * 500])
def test_unusable_rewrite_keeps_the_users_question(reply):
    assert clean_rewrite(reply, "what about German?") == "what about German?"


def test_a_first_question_is_never_resolved(fake_pipeline):
    resolved = Conversation(fake_pipeline).resolve("how was it evaluated?")
    assert (resolved.how, resolved.scope) == ("standalone", [])


def test_narrowing_judges_only_the_previous_papers(fake_pipeline):
    conversation = Conversation(fake_pipeline)
    _, first = conversation.ask("which papers use structural pruning?")
    listed = {c.paper_id for c in first.citations}
    resolved, answer = conversation.ask("which of those prune large language models?")
    judged = [m for m in fake_pipeline.llm.calls if "Does the paper match" in m[-1]["content"]]
    assert resolved.how == "narrowed" and {p.paper_id for p in answer.retrieved} <= listed
    assert len(judged) == fake_pipeline.settings.list_candidates + len(answer.retrieved)
    assert [t.how for t in conversation.turns] == ["standalone", "narrowed"]


def test_and_which_ones_after_a_narrowing_asks_of_the_list_that_turn_narrowed(fake_pipeline):
    conversation = conversation_after(fake_pipeline, [A, B, C])
    conversation.turns.append(Turn("which of those prune?", "which papers prune?", "narrowed", [B, C], "…"))
    resolved = conversation.resolve("and which ones target N:M sparsity?")
    assert (resolved.how, resolved.scope, resolved.listing) == ("narrowed", [A, B, C], True)
    assert conversation.resolve("which of those use LoRA?").scope == [B, C]  # "those": the list just shown
    assert conversation.resolve("which also use LoRA?").scope == [B, C]  # "also": narrowing further


def test_narrowing_after_a_turn_about_one_paper_judges_the_last_list_again(fake_pipeline):
    conversation = conversation_after(fake_pipeline, [A, B, C])
    conversation.turns.append(Turn("how fast is it?", "how fast is it?", "subject", [A], "fast [1]."))
    assert conversation.resolve("and which of those papers use LoRA?").scope == [A, B, C]


def test_a_set_after_a_turn_about_one_paper_is_asked_within_that_paper(fake_pipeline):
    conversation = conversation_after(fake_pipeline, [A], "what properties does the unlearning benchmark test?")
    resolved = conversation.resolve("and how many of the methods avoided serious privacy leakage?")
    assert (resolved.how, resolved.scope, resolved.listing) == ("subject", [A], None)
    assert conversation.resolve("which of these methods keep utility?").how == "subject"
    assert conversation.resolve("which of those build on decoder-only LLMs?").how == "narrowed"  # a list of one


def test_narrowing_the_list_the_question_names_by_its_words_not_the_last_one(fake_pipeline):
    conversation = conversation_after(fake_pipeline, [A, B, C], "which papers change a model's vocabulary?")
    narrowed = "which papers rely on a hypernetwork?"
    conversation.turns.append(Turn("which of these rely on a hypernetwork?", narrowed, "narrowed", [B, C], "B [1]."))
    assert conversation.resolve("and which of the vocabulary papers use RoBERTa?").scope == [A, B, C]
    assert conversation.resolve("and which of the reviews use RoBERTa?").scope == [B, C]  # a kind, not a topic
    assert conversation.resolve("and which of those use RoBERTa?").scope == [B, C]


def test_after_a_topic_switch_the_papers_before_it_are_no_longer_pointed_at(fake_pipeline):
    conversation = conversation_after(fake_pipeline, [A, B, C])
    conversation.turns.append(Turn("Different question: what is MEXA?", "what is MEXA?", "switched", [D], "M [1]."))
    assert conversation.resolve("which ones use LoRA?").how == "standalone"  # not the list of before
    assert conversation.resolve("tell me more about the second one").how != "position"
    assert conversation.resolve("how was it evaluated?").scope == [D]
    conversation.turns.append(Turn("which papers prune?", "which papers prune?", "standalone", [B, C], "…"))
    assert conversation.resolve("which ones use LoRA?").scope == [B, C]  # a list of the new topic
    assert "Speech Paper" not in build_rewrite_messages(conversation.topic_turns(), "why?")[-1]["content"]


def test_a_refused_turn_keeps_the_papers_of_the_turn_before(fake_pipeline):
    conversation = conversation_after(fake_pipeline, [A])
    conversation.turns.append(Turn("who wrote it?", "who wrote it?", "subject", [], "I don't know"))
    assert conversation.resolve("how was it evaluated?").scope == [A]


def test_a_refused_question_leaves_the_paper_it_names_as_the_subject(fake_pipeline):
    fake_pipeline.llm = ScriptedLLM(prompts.REFUSAL, "The code is on GitHub [1].")
    fake_pipeline.llm.yes_probability = lambda messages: 0.0  # no sentence is quoted in place of the refusal
    conversation = Conversation(fake_pipeline)
    _, refused = conversation.ask("Who proposed LLM-Pruner?")
    resolved, _ = conversation.ask("Where can I find its code?")
    assert refused.abstained and resolved.how == "subject"
    assert [title for _, title in resolved.scope] == [PRUNER]


def test_a_refused_question_that_showed_the_closest_passage_leaves_the_paper_found_first_as_the_subject(fake_pipeline):
    fake_pipeline.llm = ScriptedLLM(prompts.REFUSAL, "They train on C4 [1].")
    fake_pipeline.llm.yes_probability = lambda messages: 0.0
    conversation = Conversation(fake_pipeline)
    _, refused = conversation.ask("the structural pruning method for large language models: who funded it?")
    resolved, _ = conversation.ask("what did they train it on?")
    assert refused.abstained and refused.closest
    assert resolved.how == "subject" and [title for _, title in resolved.scope] == [PRUNER]


def test_turns_round_trip_and_bad_history_is_a_value_error(fake_pipeline):
    conversation = conversation_after(fake_pipeline, [A, B])
    assert Conversation.turns_from_dicts(json.loads(json.dumps(conversation.to_dicts()))) == conversation.turns
    with pytest.raises(ValueError, match="not a conversation turn"):
        Conversation.turns_from_dicts([{"question": "q"}])


def test_terminal_chat_json_runs_a_whole_conversation(fake_cli, monkeypatch, capsys):
    monkeypatch.setattr(chat, "Pipeline", __import__("rag.ask", fromlist=["Pipeline"]).Pipeline)
    monkeypatch.setattr("sys.stdin", io.StringIO("structural pruning of LLMs\n\n\nhow was it evaluated?\n" + "x" * 3000 + "\n"))
    preloads = []
    monkeypatch.setattr(Pipeline, "start_loading_llm", lambda self: preloads.append(self))
    assert chat.main(["--json", *fake_cli]) == 0
    assert preloads == []  # piped questions are retrieved first, not slowed by a model load beside them
    first, second, bad = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert first["resolution"] == "standalone" and first["citations"]
    assert second["resolution"] == "subject" and second["scope"] == [first["citations"][0]["title"]]
    assert second["standalone"].startswith("how was it evaluated? (about ")
    assert bad["error"].startswith("the question is too long")


def test_terminal_chat_streams_and_knows_its_commands(fake_cli, monkeypatch, capsys):
    monkeypatch.setattr(chat, "Pipeline", __import__("rag.ask", fromlist=["Pipeline"]).Pipeline)
    monkeypatch.setattr("sys.stdin", io.StringIO("structural pruning of LLMs\nhow was it evaluated?\n/sources\n/new\n"
                                                 "how was it evaluated?\n"))
    assert chat.main(fake_cli) == 0
    out = capsys.readouterr().out
    assert out.count("Papers found") == 3 and out.count("(answered as: how was it evaluated? (about") == 1
    assert "New conversation." in out and out.count("Sources:") == 2  # the new conversation's "it" is unresolved
    assert out.rstrip().endswith("you>") and "\n(why: " in out.rsplit("New conversation.", 1)[1]



def test_words_only_one_listed_paper_has_verbatim_pick_it(real_pipeline):
    titles = ["AIM: Adaptive Inference of Multi-Modal LLMs via Token Merging and Pruning",
              "Visual Perception by Large Language Model's Weights",
              "Frozen Transformers in Language Models Are Effective Visual Encoder Layers"]
    found = {p.title: p.paper_id for t in titles for p in real_pipeline.retrieve(t).papers}
    listed = [(found[t], t) for t in titles]
    conversation = conversation_after(real_pipeline, listed,
                                      "Which papers try to cut the cost that visual tokens add to multimodal LLMs?")
    # only AIM's abstract says "training-free"; by similarity alone a training-free paper on long inputs won
    assert conversation.resolve("the training-free one: how big a FLOPs reduction does it get?").scope == listed[:1]


def test_a_described_paper_before_the_question_is_found_among_the_list_not_the_last_subject(real_pipeline):
    titles = ["MC-MoE: Mixture Compressor for Mixture-of-Experts LLMs Gains More", "A Survey on Mixture of Experts",
              "FineQuant: Unlocking Efficiency with Fine-Grained Weight-Only Quantization for LLMs"]
    found = {p.title: p.paper_id for t in titles for p in real_pipeline.retrieve(t).papers}
    listed = [(found[t], t) for t in titles]
    conversation = conversation_after(real_pipeline, listed, "papers on mixture-of-experts LLMs?")
    conversation.turns.append(Turn("the survey: what does it propose?", "…", "description", [listed[1]], "…"))
    resolved = conversation.resolve("and the compressor built specifically for MoE models, how much accuracy does "
                                    "it lose at 2.54 bits?")
    assert (resolved.how, resolved.scope) == ("description", listed[:1])  # not "it", the survey just discussed


def test_the_survey_one_is_the_survey_its_list_question_found_though_the_list_missed_it(real_pipeline):
    question = ("What papers are there on augmenting language models with outside knowledge, i.e. the LM pulls in "
                "stuff from a datastore, a text corpus, a knowledge base or the web?")
    titles = ["Why do Nearest Neighbor Language Models Work?",
              "Internet-augmented language models through few-shot prompting for open-domain question answering",
              "Shall We Pretrain Autoregressive Language Models with Retrieval? A Comprehensive Study"]
    found = {p.title: p.paper_id for t in titles for p in real_pipeline.retrieve(t).papers}
    conversation = conversation_after(real_pipeline, [(found[t], t) for t in titles], question)
    resolved = conversation.resolve("for the survey one, what problems does it say this direction could fix?")
    assert resolved.how == "description"
    assert resolved.scope[0][1] == "Augmenting LLMs with Knowledge: A survey on hallucination prevention"


def test_a_subject_named_by_words_the_previous_paper_lacks_is_a_new_topic(fake_pipeline):
    pruner = fake_pipeline.retrieve("LLM-Pruner structural pruning").papers[0]
    assert pruner.title.startswith("LLM-Pruner")
    conversation = conversation_after(fake_pipeline, [(pruner.paper_id, pruner.title)], "how do they prune Llama?")
    switched = conversation.resolve("what does the hidden transfer decoding method actually transfer, and which "
                                    "methods does it beat?")
    assert (switched.how, switched.scope) == ("standalone", [])
    # words the previous paper has: its own method, "it" still points back; so does a method it is compared with
    for question in ["what does the structural pruning method remove, and how much data does it need?",
                     "compared with the one-shot SparseGPT method, what does it need to recover?"]:
        same = conversation.resolve(question)
        assert same.how == "subject" and same.scope == [(pruner.paper_id, pruner.title)], question


def test_a_switch_to_a_paper_named_by_its_method_leaves_the_previous_paper(real_pipeline):
    trimming = "An Efficient Multilingual Language Model Compression through Vocabulary Trimming"
    paper = next(p for p in real_pipeline.retrieve(trimming).papers if p.title == trimming)
    conversation = conversation_after(real_pipeline, [(paper.paper_id, trimming)], "what did they evaluate it on?")
    resolved = conversation.resolve("what does the hidden transfer decoding method actually transfer, and which "
                                    "acceleration methods does it beat?")
    assert (resolved.how, resolved.scope) == ("standalone", [])
    found = real_pipeline.retrieve(resolved.standalone).papers[0].title
    assert found == "Parallel Decoding via Hidden Transfer for Lossless Large Language Model Acceleration"


def test_the_first_one_follows_the_order_the_user_described_the_papers_in(real_pipeline):
    question = ("two papers i want to compare: one argues perplexity hides how much compression really breaks llms "
                "and builds a new benchmark for it, the other is a task-agnostic structural pruning method for llms. "
                "what are they called?")
    kick = "Compressing LLMs: The Truth is Rarely Pure and Never Simple"
    titles = ["LLM-Pruner: On the Structural Pruning of Large Language Models", kick]  # as the answer listed them
    found = {p.title: p.paper_id for t in titles for p in real_pipeline.retrieve(t).papers}
    conversation = conversation_after(real_pipeline, [(found[t], t) for t in titles], question)
    first = conversation.resolve("the first one: at what sparsity do pruning methods already start failing?")
    second = conversation.resolve("and the second one, how does it decide which parts to remove?")
    assert (first.how, first.scope) == ("position", [(found[kick], kick)])
    assert second.scope == [(found[titles[0]], titles[0])]
    # a list the user did not order keeps the answer's order
    plain = conversation_after(real_pipeline, [(found[t], t) for t in titles], "which papers compress LLMs?")
    assert plain.resolve("the first one: what does it find?").scope == [(found[titles[0]], titles[0])]
