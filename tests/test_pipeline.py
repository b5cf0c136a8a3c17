import itertools

import pytest

from rag import prompts
from rag.errors import UserError
from rag.pipeline import Answer, Found, Sources, Token
from tests.fakes import ScriptedLLM


def test_answer_cites_exact_titles_through_the_pipeline(fake_pipeline, seed_titles):
    events = list(fake_pipeline.stream("structural pruning of large language models"))
    assert isinstance(events[0], Found) and isinstance(events[1], Sources)  # papers first, then their evidence
    assert any(isinstance(e, Token) for e in events)
    answer = events[-1]
    assert isinstance(answer, Answer) and not answer.abstained
    assert [c.title for c in answer.citations] == [answer.retrieved[0].title]
    assert {c.title for c in answer.citations} <= seed_titles
    prompt = fake_pipeline.llm.calls[0][1]["content"]
    assert prompt.startswith("Excerpts:\n[1] " + answer.retrieved[0].title)
    assert fake_pipeline.llm.calls[0][0]["content"] == prompts.SYSTEM


@pytest.mark.parametrize("reply", ["I think it is 42.", "It is 42 [9].", prompts.REFUSAL])
def test_uncited_or_refused_answers_become_the_refusal(fake_pipeline, monkeypatch, reply):
    fake_pipeline.llm.reply = reply
    monkeypatch.setattr(fake_pipeline.llm, "yes_probability", lambda messages: 0.1)  # no sentence to quote
    answer = fake_pipeline.ask("what is the answer?")
    assert answer.abstained and answer.text == prompts.REFUSAL and answer.citations == []
    assert answer.generated == reply  # what the model said is kept for inspection


def test_retrieval_only_does_not_call_the_llm(fake_pipeline):
    answer = fake_pipeline.ask("pruning", retrieval_only=True)
    assert answer.retrieved and fake_pipeline.llm.calls == []


@pytest.mark.parametrize("question", ["", "   \n\t", "\x00\x01", "x" * 5000])
def test_bad_questions_are_user_errors(fake_pipeline, question):
    with pytest.raises(UserError):
        fake_pipeline.ask(question)


def test_list_questions_judge_each_candidate_and_list_the_matches(fake_pipeline):
    answer = fake_pipeline.ask("which papers use structural pruning?")
    judged = [c for c in fake_pipeline.llm.calls if "Does the paper match" in c[-1]["content"]]
    assert len(judged) == fake_pipeline.settings.list_candidates
    assert answer.citations and not answer.abstained
    for line, citation in zip(answer.text.splitlines(), answer.citations):
        assert line.startswith(f"- {citation.title} [{citation.n}]: ")


def test_candidates_further_down_the_ranking_need_a_surer_yes(fake_pipeline, monkeypatch):
    monkeypatch.setattr(fake_pipeline.llm, "yes_probability", lambda messages: 0.3)
    fake_pipeline.settings.list_threshold, fake_pipeline.settings.list_rank_step = 0.2, 0.03
    answer = fake_pipeline.ask("which papers use structural pruning?")
    assert [c.n for c in answer.citations] == [1, 2, 3, 4]  # rank 5 would need 0.32


def test_narrowing_papers_the_user_saw_keeps_those_judged_near_the_best(fake_pipeline, monkeypatch):
    scope = [p.paper_id for p in fake_pipeline.retrieve("structural pruning of large language models").papers[:4]]
    judged = iter([0.8, 0.5, 0.3, 0.7])
    monkeypatch.setattr(fake_pipeline.llm, "yes_probability", lambda messages: next(judged))
    fake_pipeline.settings.narrow_share = 0.6
    answer = fake_pipeline.ask("which papers prune large language models?", papers=scope, listing=True)
    assert [c.n for c in answer.citations] == [1, 2, 4] and len(answer.generated.splitlines()) == 4
    assert answer.reason.startswith("1 of 4 papers left out") and "(0.80)" in answer.reason
    judged = itertools.chain([0.8, 0.5, 0.3, 0.7], itertools.repeat(0.0))
    assert len(fake_pipeline.ask("which papers prune large language models?").citations) == 4  # no scope: a list


def test_a_question_for_one_described_paper_needs_a_surer_yes_than_a_list(fake_pipeline, monkeypatch):
    monkeypatch.setattr(fake_pipeline.llm, "yes_probability", lambda messages: 0.25)
    fake_pipeline.settings.list_threshold, fake_pipeline.settings.identify_threshold = 0.2, 0.3
    assert fake_pipeline.ask("which papers use structural pruning?").citations
    answer = fake_pipeline.ask("Which paper uses structural pruning?")
    assert answer.abstained and answer.reason == "no candidate paper was judged to match"


def test_low_retrieval_score_refuses_without_the_llm(fake_pipeline):
    fake_pipeline.settings.min_score = 0.99
    answer = fake_pipeline.ask("how do they prune Llama?")
    assert answer.abstained and answer.text == prompts.REFUSAL and fake_pipeline.llm.calls == []


def test_the_similarity_gate_reads_the_passages_first_paper_not_the_word_reordered_one(fake_pipeline):
    question = "how do they prune Llama?"
    fake_pipeline.settings.word_rerank = 0
    fused_first = fake_pipeline.retrieve(question).papers[0]
    fake_pipeline.settings.min_score = fused_first.score  # it passes; the last paper's best passage is below it
    k = fake_pipeline.settings.k
    fake_pipeline.retriever.rerank_by_words = lambda query, ranked: ranked[:k][::-1] + ranked[k:]
    assert fake_pipeline.retrieve(question).papers[0].score < fused_first.score
    answer = fake_pipeline.ask(question)
    assert "min_score" not in answer.reason and fake_pipeline.llm.calls


def test_a_question_that_names_a_paper_is_answered_whatever_the_similarity(fake_pipeline):
    fake_pipeline.settings.min_score = 0.99
    answer = fake_pipeline.ask("which models was MaskLLM tested on?")
    assert "min_score" not in answer.reason and fake_pipeline.llm.calls


def test_a_list_of_papers_naming_a_specific_thing_is_judged_whatever_the_similarity(fake_pipeline):
    fake_pipeline.settings.min_score = 0.99
    hedged = "Which papers actually run experiments with LLaMA (not just mention it or compare against it)?"
    answer = fake_pipeline.ask(hedged)
    assert not answer.abstained and answer.citations
    # a name most papers have says nothing of the question's topic; so does a question that names nothing
    assert fake_pipeline.ask("Which papers apply LLMs to legal contract review?").reason.startswith("the best passage")
    assert fake_pipeline.ask("any papers on protein structure prediction?").reason.startswith("the best passage")
    # Title-Case topic words are no names: the papers write them in lower case
    assert fake_pipeline.ask("Any papers on Protein Structure Prediction?").reason.startswith("the best passage")
    fake_pipeline.settings.named_share = 0.0
    assert fake_pipeline.ask(hedged).reason.startswith("the best passage")


def test_a_scope_the_conversation_chose_is_answered_whatever_the_similarity(fake_pipeline):
    fake_pipeline.settings.min_score = 0.99
    scope = fake_pipeline.retrieve("structural pruning of large language models").papers
    answer = fake_pipeline.ask("which papers prune large language models?", papers=[p.paper_id for p in scope],
                               listing=True)
    assert not answer.abstained and {c.title for c in answer.citations} <= {p.title for p in scope}
    assert answer.citations
    assert fake_pipeline.ask("which papers prune large language models?").reason.startswith("the best passage")
    # "how big a reduction does it get?" about the paper a follow-up resolved to
    about_one = fake_pipeline.ask("how big a reduction does it get?", papers=[scope[0].paper_id])
    assert not about_one.abstained and [c.title for c in about_one.citations] == [scope[0].title]


def test_an_unverifiable_answer_becomes_a_quote_of_the_sentence_judged_to_answer(fake_pipeline, monkeypatch):
    fake_pipeline.llm.reply = prompts.REFUSAL
    monkeypatch.setattr(fake_pipeline.llm, "yes_probability", lambda messages: 0.9)
    answer = fake_pipeline.ask("structural pruning of large language models")
    assert answer.quoted and not answer.abstained and answer.generated == prompts.REFUSAL
    quoted = answer.text.split("”")[0].lstrip("“")
    [cited] = answer.citations
    paper = next(p for p in answer.retrieved if p.title == cited.title)
    assert quoted in fake_pipeline.index.abstracts([paper.paper_id])[paper.paper_id]
    assert answer.reason == ("the model found no answer in the excerpts; quoting the source sentence judged to "
                             "answer the question (P(yes) 0.90) instead")


@pytest.mark.parametrize("p_refusal", [0.3, 0.7])
def test_a_refusal_the_model_is_unsure_of_gives_way_to_its_best_answer_which_is_checked(fake_pipeline, p_refusal):
    question = "structural pruning of large language models"
    first = fake_pipeline.retrieve(question).papers[0].passages[0].text.split(". ")[0].rstrip(".")
    fake_pipeline.llm = ScriptedLLM(prompts.REFUSAL, f"1], {first[0].lower()}{first[1:]}.")
    fake_pipeline.llm.first_token_top = [("I", p_refusal), ("The", 0.2), ("[", 0.1)]
    fake_pipeline.settings.quote_candidates = 0
    answer = fake_pipeline.ask(question)
    if p_refusal < fake_pipeline.settings.refusal_confidence:
        assert fake_pipeline.llm.calls[1][-1] == {"role": "assistant", "content": prompts.ANSWER_PREFILL}
        assert answer.generated.startswith(prompts.ANSWER_PREFILL + "1], ")
        assert not answer.abstained and answer.text == f"{first} [1]."  # "According to [1]," names no fact
        assert answer.reason == ("the model started to refuse, unsure (P 0.30 < refusal_confidence 0.5), so it was "
                                 "asked for its best answer, which the checks kept")
    else:
        assert len(fake_pipeline.llm.calls) == 1 and answer.abstained and answer.reason == (
            "the model found no answer in the excerpts")


def test_an_unsure_refusals_best_answer_that_fails_the_checks_is_refused_saying_both(fake_pipeline):
    fake_pipeline.llm = ScriptedLLM(prompts.REFUSAL, "1], the pasta recipe needs 42 tomatoes.")
    fake_pipeline.llm.first_token_top = [("I", 0.4), ("The", 0.3)]
    fake_pipeline.settings.quote_candidates = 0
    answer = fake_pipeline.ask("structural pruning of large language models")
    assert answer.abstained and answer.reason == (
        "the model started to refuse, unsure (P 0.40 < refusal_confidence 0.5), so it was asked for its best answer; "
        "no sentence of the model's answer is supported by its sources (no source says this)")


def test_a_refusal_says_why(fake_pipeline, monkeypatch):
    fake_pipeline.llm.reply = "The pasta recipe needs 42 tomatoes [1]."
    monkeypatch.setattr(fake_pipeline.llm, "yes_probability", lambda messages: 0.1)
    answer = fake_pipeline.ask("structural pruning of large language models")
    assert answer.abstained and answer.text == prompts.REFUSAL
    assert answer.reason == "no sentence of the model's answer is supported by its sources (no source says this)"
    assert answer.checks[0].dropped == "no source says this"
    sentence, title = answer.closest.split("” (")
    paper = next(p for p in answer.retrieved if p.title == title.rstrip(")"))
    assert sentence.lstrip("“") in fake_pipeline.index.abstracts([paper.paper_id])[paper.paper_id]
    judged = [m for m in fake_pipeline.llm.calls if "Does the sentence answer" in m[-1]["content"]]
    assert judged == []  # yes_probability was replaced; the calls recorded are the answer's only


def test_dropped_sentences_are_reported_and_the_rest_kept(fake_pipeline):
    first = fake_pipeline.retrieve("structural pruning of large language models").papers[0].passages[0].text
    claim = first.split(". ")[0].rstrip(".")
    fake_pipeline.llm.reply = f"{claim} [1]. In short, {claim[0].lower()}{claim[1:]} on 512 TPUs [1]."
    answer = fake_pipeline.ask("structural pruning of large language models")
    assert not answer.abstained and "512" not in answer.text
    assert answer.reason == "1 of 2 sentences left out: number 512 is not in [1]"


def test_a_bare_yes_is_replaced_by_the_cited_papers_sentence_that_bears_on_it(fake_pipeline):
    fake_pipeline.llm.reply = "Yes, MaskLLM learns its semi-structured sparsity masks [1]."
    answer = fake_pipeline.ask("Does MaskLLM learn its semi-structured sparsity masks?")
    assert answer.quoted and not answer.abstained and answer.generated == fake_pipeline.llm.reply
    assert answer.text.startswith("“") and answer.text.endswith(f"” [{answer.citations[0].n}]")
    assert answer.citations[0].title.startswith("MaskLLM")
    assert answer.reason.startswith("the model's yes or no only restated the question")


def test_a_yes_that_adds_a_fact_is_checked_as_any_answer(fake_pipeline):
    fake_pipeline.llm.reply = "Yes, MaskLLM learns its masks with Gumbel Softmax sampling [1]."
    answer = fake_pipeline.ask("Does MaskLLM learn its semi-structured sparsity masks?")
    assert not answer.quoted and answer.text == fake_pipeline.llm.reply


def test_a_how_many_answer_without_any_number_is_refused_with_that_reason(fake_pipeline, monkeypatch):
    fake_pipeline.llm.reply = "MaskLLM learns semi-structured sparsity masks [1]."
    monkeypatch.setattr(fake_pipeline.llm, "yes_probability", lambda messages: 0.1)  # no sentence to quote
    answer = fake_pipeline.ask("How many sparsity masks does MaskLLM learn?")
    assert answer.abstained and answer.reason == "the question asks how many masks; the answer states no number"


def test_a_quantity_answer_that_only_gives_back_the_questions_number_is_refused(fake_pipeline, monkeypatch):
    fake_pipeline.llm.reply = "It took 15B parameters to train MaskLLM's semi-structured sparsity masks [1]."
    monkeypatch.setattr(fake_pipeline.llm, "yes_probability", lambda messages: 0.1)  # no sentence to quote
    answer = fake_pipeline.ask("How long did it take to train MaskLLM's masks on the 15B model?")
    assert answer.abstained
    assert answer.reason == "the question asks how long; the answer's only quantities (15B) are the question's own"


def test_a_yes_about_a_name_no_source_mentions_is_refused_and_nothing_is_quoted(fake_pipeline, monkeypatch):
    fake_pipeline.llm.reply = "Yes, MaskLLM learns its semi-structured sparsity masks [1]."
    judged = []
    monkeypatch.setattr(fake_pipeline.llm, "yes_probability", lambda messages: judged.append(messages) or 0.9)
    answer = fake_pipeline.ask("Does MaskLLM learn its semi-structured sparsity masks better than Zorblax?")
    assert answer.abstained and not answer.quoted and judged == []
    assert answer.reason == "the question names Zorblax, which [1] never mentions"


def test_an_answer_about_a_model_size_its_paper_never_mentions_is_refused(fake_pipeline, monkeypatch):
    fake_pipeline.llm.reply = "MaskLLM reaches 6.72 PPL on Wikitext [1]."
    monkeypatch.setattr(fake_pipeline.llm, "yes_probability", lambda messages: 0.1)  # no sentence to quote
    answer = fake_pipeline.ask("What Wikitext perplexity does MaskLLM reach on llama2-13b?")
    assert answer.abstained and answer.reason == "the question names llama2-13b, which [1] never mentions"
    assert not fake_pipeline.ask("What Wikitext perplexity does MaskLLM reach on LLaMA-2?").abstained


def test_a_bare_yes_with_no_sentence_to_quote_stays_the_checked_answer(fake_pipeline, monkeypatch):
    from rag import pipeline

    monkeypatch.setattr(pipeline, "closest_sentences", lambda question, sources, count: [])
    fake_pipeline.llm.reply = "Yes, MaskLLM learns its semi-structured sparsity masks [1]."
    answer = fake_pipeline.ask("Does MaskLLM learn its semi-structured sparsity masks?")
    assert not answer.quoted and answer.text == fake_pipeline.llm.reply
