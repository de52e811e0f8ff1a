import html

import pytest

import netlab as nl


def test_right_answer_explains_why():
    fb = nl.quiz.check("01-loopback", " LO ")
    assert fb.correct and str(fb).startswith("Right.")


def test_wrong_answer_points_to_the_evidence():
    fb = nl.quiz.check("01-gateway", "10.224.0.1")
    assert fb.correct is False and "ip_route()" in str(fb)
    assert "color:#b2182b" in fb._repr_html_()


def test_unknown_question_suggests():
    with pytest.raises(nl.NotFoundError, match="Did you mean '01-loopback'"):
        nl.quiz.check("01-loopbak", "lo")


EQUIVALENT = [  # (question, answer in a learner's words)
    ("01-loopback", "the loopback interface"), ("01-loopback", "lo interface"),
    ("01-gateway", "10.244.0.1"), ("01-gateway", "the cbr0 bridge"), ("01-gateway", "cbr0's address"),
    ("01-veth-ends", "two"), ("01-veth-ends", "2 ends"),
    ("02-switch", "the cbr0 bridge"), ("02-switch", "a Linux bridge"), ("02-switch", "the node's bridge"),
    ("03-same-address", "both 172.17.0.2"), ("03-same-address", "172.17.0.2 and 172.17.0.2"),
    ("04-next-hop", "Virtual Appliance"), ("04-next-hop", "VirtualAppliance"),
    ("05-addresses", "93 addresses"), ("05-addresses", "ninety-three"),
    ("06-peering", "Azure CNI"), ("06-peering", "advanced networking"),
    ("07-dnat", "10.244.0.3"), ("07-dnat", "client"), ("07-dnat", "the client pod's address"),
    ("07-local", "Yes, it does"), ("07-local", "y"),
]


@pytest.mark.parametrize("question, answer", EQUIVALENT)
def test_answers_in_plain_words_are_accepted(question, answer):
    fb = nl.quiz.check(question, answer)
    assert fb.correct is True, f"{answer!r} should be right for {question}: {fb}"
    assert "Question:" not in str(fb)


SPECIFIC = [  # (question, common wrong answer, what its feedback must say)
    ("01-loopback", "eth0", "never leaves the pod"),
    ("01-gateway", "10.224.0.4", "the node's own address"),
    ("01-gateway", "169.254.1.1", "Azure CNI's transparent mode"),
    ("02-switch", "eth0", "never leaves the node"),
    ("03-same-address", "172.17.0.1", "docker0's own address"),
    ("04-next-hop", "VnetLocal", "system route"),
    ("05-addresses", "90", "each node also takes one address"),
    ("06-peering", "kubenet", "no route"),
    ("07-dnat", "the node's address", "rewrites only the destination"),
    ("07-local", "no", "That is the Cluster policy"),
]


@pytest.mark.parametrize("question, answer, says", SPECIFIC)
def test_common_wrong_answers_get_feedback_of_their_own(question, answer, says):
    fb = nl.quiz.check(question, answer)
    assert fb.correct is False and says in fb.message
    assert fb.message != f"Not quite ({answer!r}). {nl.quiz.QUESTIONS[question].wrong}"


@pytest.mark.parametrize("question", sorted(nl.quiz.QUESTIONS))
def test_a_missing_or_wrong_answer_shows_the_question(question):
    text = nl.quiz.QUESTIONS[question].text
    for answer in (None, "", "something else entirely"):
        fb = nl.quiz.check(question, answer)
        assert fb.correct is (None if answer in (None, "") else False)
        assert f"Question: {text}" in str(fb)
        assert html.escape(text) in fb._repr_html_()


def test_filler_alone_is_not_an_answer():
    assert nl.quiz.check("07-local", "it does").correct is False
    assert nl.quiz.check("02-switch", "the").correct is False


@pytest.mark.parametrize("answer, right", [
    ("3 x 31 = 93", True), ("93 = 3 x 31", True), ("3*(1+30) = 93", True),
    ("3 x 30 = 93", False),  # the sum is wrong: a right-looking result is not enough
    ("3 x 30 = 90", False), ("1 = 2", False),
])
def test_a_worked_answer_counts_by_its_result_only_if_the_sum_is_right(answer, right):
    question = "01-veth-ends" if answer == "1 = 2" else "05-addresses"
    assert nl.quiz.check(question, answer).correct is right


def test_a_negated_answer_is_not_right():
    assert nl.quiz.check("07-local", "not yes").correct is False


@pytest.mark.parametrize("question, answer, right", [
    ("01-veth-ends", "two, one in the pod and one on the node", True),
    ("04-next-hop", "VirtualAppliance (a VM that forwards packets)", True),
    ("07-dnat", "the pod, not the node", True),
    ("07-dnat", "the node, not the pod", False),
    ("05-addresses", "93 (3 x 31)", True),
    ("05-addresses", "90 (3 x 30)", False),
])
def test_an_answer_followed_by_its_reason_is_judged_by_the_answer(question, answer, right):
    fb = nl.quiz.check(question, answer)
    assert fb.correct is right
    if not right:  # and a wrong one still gets the feedback its mistake deserves
        assert fb.message != f"Not quite ({answer!r}). {nl.quiz.QUESTIONS[question].wrong}"
