"""Charts: structure checks on the returned figure (lines, labels, scales), not pixels."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402



# ------------------------------------------------------------------ draw_proxy_cost
from netlab.kubeproxy.cost import proxy_cost  # noqa: E402
from netlab.views.plot import draw_proxy_cost  # noqa: E402

SIZES = (10, 40, 80)
MODES = ("iptables", "nftables", "ipvs")


@pytest.fixture(scope="module")
def cost_fig():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = draw_proxy_cost(modes=MODES, sizes=SIZES)
    FigureCanvasAgg(fig).draw()  # lay the text out, to measure it
    return fig


def test_proxy_cost_right_panel_plots_full_sync_against_one_change_per_mode(cost_fig):
    left, right = cost_fig.axes
    assert right.get_yscale() == "log" and "one Service changed" in right.get_title()
    lines = {line.get_label(): line for line in right.get_lines()}
    for mode in MODES:
        full, update = lines[f"{mode}: full sync"], lines[f"{mode}: one Service changed"]
        assert full.get_linestyle() == "-" and update.get_linestyle() == "--"
        assert full.get_color() == update.get_color()
        assert list(full.get_ydata()) == [proxy_cost(mode, n, 3).rules_written for n in SIZES]
        assert list(update.get_ydata()) == [proxy_cost(mode, n, 3).update_written for n in SIZES]
    assert [t.get_text() for t in right.get_legend().get_texts()] == ["full sync (every Service)",
                                                                      "one Service's endpoints changed"]
    assert [line.get_label() for line in left.get_lines()] == list(MODES)


def test_proxy_cost_labels_each_update_at_the_largest_size_in_its_modes_colour(cost_fig):
    right = cost_fig.axes[1]
    labels = {t.get_text().split(":")[0]: t for t in right.texts}
    assert set(labels) == set(MODES)
    for mode in MODES:
        assert labels[mode].get_text() == f"{mode}: {proxy_cost(mode, SIZES[-1], 3).update_written:,} lines"
        assert labels[mode].get_color() == right.get_lines()[MODES.index(mode) * 2 + 1].get_color()


def test_proxy_cost_labels_do_not_overlap_and_stay_readable(cost_fig):
    renderer = cost_fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in cost_fig.axes[1].texts]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    texts = [t for ax in cost_fig.axes for t in (*ax.texts, ax.title, ax.xaxis.label, ax.yaxis.label,
                                                 *ax.get_xticklabels(), *ax.get_yticklabels(),
                                                 *ax.get_legend().get_texts())]
    assert min(t.get_fontsize() for t in texts if t.get_text()) >= 10  # 11 px or more at 80 dpi, as the PNG is drawn
    assert cost_fig.get_size_inches().tolist() == [11.0, 4.2] and cost_fig._repr_png_()[:4] == b"\x89PNG"


def test_proxy_cost_into_a_given_axes_draws_the_sync_panel_only():
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.subplots()
    assert draw_proxy_cost(modes=("nftables",), sizes=(10, 20), ax=ax) is fig
    assert len(fig.axes) == 1 and ax.get_yscale() == "log"
    assert [line.get_label() for line in ax.get_lines()] == ["nftables: full sync", "nftables: one Service changed"]


def test_proxy_cost_says_userspace_updates_write_nothing():
    fig = draw_proxy_cost(modes=("userspace",), sizes=(10, 20))
    right = fig.axes[1]
    assert [line.get_label() for line in right.get_lines()] == ["userspace: full sync"]  # no 0 on a log axis
    assert [t.get_text() for t in right.texts] == ["userspace: 0 lines (kept in kube-proxy's memory)"]


@pytest.mark.parametrize("chart", ["address_use", "proxy_cost"])
def test_charts_are_readable_at_the_width_a_notebook_shows_them(chart):
    # Jupyter shows the PNG at 80 dpi: at most 900 px wide, and every text at least 11 px high.
    from netlab.views.plot import draw_address_use

    fig = draw_address_use() if chart == "address_use" else draw_proxy_cost(modes=MODES)
    assert fig.get_size_inches()[0] * 80 <= 900
    texts = []
    for ax in fig.axes:
        texts += ax.texts + [ax.title, ax.xaxis.label, ax.yaxis.label] + ax.get_xticklabels() + ax.get_yticklabels()
        if ax.get_legend():
            texts += ax.get_legend().get_texts()
    shown = [t for t in texts if t.get_text()]
    assert shown and min(t.get_fontsize() * 80 / 72 for t in shown) >= 11
