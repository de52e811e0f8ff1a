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
