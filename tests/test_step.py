"""nl.step_through: a trace hop by hop on the diagram, driven through its widgets' values."""

import re

import pytest

import netlab as nl


@pytest.fixture
def stepper(kubenet2):
    c = kubenet2.add_service("api", selector={"app": "api"}, ports=[{"port": 80, "targetPort": 8080}])
    return nl.step_through(c.trace("web-0", "api", port=80))


def _current(s):
    return re.search(r"rect\.nl-b\.nl-h(\d+)\{", s.picture.value).group(1)


def test_steps_is_the_number_of_hops_and_starts_at_the_first(stepper):
    assert stepper.steps == len(stepper.trace.hops) == stepper.slider.max
    assert stepper.step == 1 and _current(stepper) == "1"
    assert stepper.prev.disabled and not stepper.next.disabled


def test_next_prev_and_the_slider_move_the_highlight_and_the_panel(stepper):
    stepper.next.click()
    stepper.next.click()
    assert stepper.step == 3 and _current(stepper) == "3"
    assert stepper.detail.value.startswith("<div") and "<b>hop 3 of" in stepper.detail.value
    stepper.prev.click()
    assert stepper.step == 2 and _current(stepper) == "2"
    stepper.slider.value = stepper.steps
    assert _current(stepper) == str(stepper.steps) and stepper.next.disabled
    stepper.next.click()  # at the end: stays
    assert stepper.step == stepper.steps
    assert "delivered" in stepper.detail.value


def test_setting_step_shows_that_hop_and_a_wrong_step_keeps_the_last(stepper):
    stepper.step = 2
    with pytest.raises(nl.ConfigError, match=rf"step=0: give a whole number, the hop to show: this trace has hops 1 to {stepper.steps}; the last valid step, 2"):
        stepper.step = 0
    with pytest.raises(nl.ConfigError, match="step=True"):
        stepper.step = True
    assert stepper.step == 2 and _current(stepper) == "2"


def test_the_panel_shows_before_after_nat_and_the_deciding_line_with_its_command(stepper):
    dnat = next(n for n, h in enumerate(stepper.trace.hops, 1) if any(x.kind == "DNAT" for x in h.nat))
    stepper.step = dnat
    hop = stepper.hop()
    text = stepper.text()
    assert f"before   {hop.before}" in text and f"after    {hop.packet}" in text
    assert f"NAT      {hop.nat_text}" in text and hop.decided_by.text.strip() in text
    assert f"cluster.run({hop.decided_by.command!r}, on={hop.decided_by.on!r})" in text
    # the rewritten destination is in bold in the panel; the unchanged source is not
    assert f"<b style='color:#CC79A7'>{hop.packet.dst}</b>" in stepper.detail.value
    assert f"<b style='color:#CC79A7'>{hop.packet.src}</b>" not in stepper.detail.value
    # what the panel says is what the command prints, verbatim
    assert hop.decided_by.text.strip() in stepper.cluster.run(hop.decided_by.command, on=hop.decided_by.on)


def test_a_refused_trace_ends_with_its_reason(kubenet2):
    s = nl.step_through(kubenet2.trace("web-0", "api-0", port=9999))
    s.step = s.steps
    assert s.text().splitlines()[-1].startswith("  then     refused:")


def test_bad_inputs_teach(kubenet2):
    with pytest.raises(nl.ConfigError, match=r"step_through takes what cluster.trace\(...\) returns, not 'web-0'"):
        nl.step_through("web-0")
    with pytest.raises(nl.ConfigError, match=r"step_through\(trace, cluster=...\) takes the cluster the trace was made in, not 'x'"):
        nl.step_through(kubenet2.trace("web-0", "api-0", port=8080), cluster="x")
    with pytest.raises(nl.ConfigError, match="this trace was made in another cluster, or in this one before a change"):
        nl.step_through(kubenet2.trace("web-0", "api-0", port=8080), cluster=kubenet2.add_node())


def test_a_step_changes_only_a_style_block(stepper):
    base = stepper.diagram.svg
    stepper.step = 3
    shown = stepper.picture.value
    assert re.sub(r"<style>.*?</style>", "", shown) == f'<div style="max-width:900px">{base}</div>'


def test_jupyter_gets_the_widget_and_a_text_and_html_fallback(stepper):
    stepper.step = 2
    bundle = stepper._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == stepper.widget.model_id
    assert bundle["text/plain"] == stepper.text() and bundle["text/plain"].startswith("hop 2 of")
    assert "rect.nl-b.nl-h2{" in bundle["text/html"] and "<b>hop 2 of" in bundle["text/html"]


def test_the_step_style_reaches_only_the_step_throughs_own_drawing(kubenet2):
    t = kubenet2.trace("web-0", "api-0", port=8080)
    plain, s = nl.draw_cluster(kubenet2, trace=t), nl.step_through(t)
    assert s.diagram.ident == f"{plain.ident}-step" and f'id="{plain.ident}"' not in s.picture.value
    assert f"#{s.diagram.ident} " in s.picture.value and f"#{plain.ident} " not in s.picture.value
