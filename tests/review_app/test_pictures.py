"""The pictures' geometry, as pure functions: scales and ticks, and each picture on empty
data, one point, ordinary data and extreme values (every coordinate inside the picture)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from review_app.pictures import (
    Measure,
    Offer,
    Scale,
    before_after,
    extent,
    frontier,
    nice_ticks,
    rates_chart,
)
from rules.store.decisions.rates import Bucket

T0 = datetime(2026, 3, 2, tzinfo=UTC)
finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


def day(n: int, decisions: int = 10, exceptions: int = 2) -> Bucket:
    start = T0 + timedelta(days=n)
    return Bucket(start, start + timedelta(days=1), decisions, exceptions)


# --------------------------------------------------------------------------- scales


def test_a_scale_maps_the_domain_onto_the_range_and_clamps() -> None:
    x = Scale(0.0, 100.0, 200.0, 600.0)
    assert (x(0), x(50), x(100)) == (200.0, 400.0, 600.0)
    assert (x(-5), x(1e9)) == (200.0, 600.0)  # extreme values stay on the border
    y = Scale(0.0, 10.0, 300.0, 20.0)  # SVG y grows downwards
    assert (y(0), y(10), y(2.5)) == (300.0, 20.0, 230.0)


def test_a_scale_of_one_value_puts_it_in_the_middle() -> None:
    assert Scale(3.0, 3.0, 0.0, 100.0)(3.0) == 50.0


@pytest.mark.parametrize(
    ("lo", "hi", "ticks"),
    [
        (0, 100, (0, 20, 40, 60, 80, 100)),
        (0, 1, (0, 0.2, 0.4, 0.6, 0.8, 1)),
        (-3, 7, (-2, 0, 2, 4, 6)),
        (5, 5, (5,)),
    ],
)
def test_nice_ticks(lo: float, hi: float, ticks: tuple[float, ...]) -> None:
    assert nice_ticks(lo, hi) == pytest.approx(ticks)


def test_extent_holds_the_values_and_what_must_be_included() -> None:
    assert extent([1.2, 3.7], include=(0.0,)) == (0.0, 4.0)
    assert extent([]) == (0.0, 1.0)
    lo, hi = extent([2.0])  # one value: widened around it
    assert lo < 2.0 < hi
    assert extent([float("nan"), 1.0, float("inf")], include=(0.0,)) == (0.0, 1.0)


@given(st.lists(finite, min_size=1, max_size=20))
def test_extent_and_ticks_hold_every_value(values: list[float]) -> None:
    lo, hi = extent(values)
    assert lo < hi
    assert all(lo - 1e-9 <= v <= hi + 1e-9 for v in values)  # to nine decimals
    ticks = nice_ticks(lo, hi)
    assert ticks
    assert all(lo - 1e-6 * (hi - lo) <= t <= hi + 1e-6 * (hi - lo) for t in ticks)


# --------------------------------------------------------------------------- before/after


def test_before_after_draws_two_bars_per_measure_to_scale() -> None:
    chart = before_after([Measure("Automation", 60.0, 80.0), Measure("Exception rate", 40.0, 20.0)])
    assert chart is not None
    assert [r.label for r in chart.rows] == ["Automation", "Exception rate"]
    width = chart.plot_right - chart.plot_left
    (before, after), (exc_before, exc_after) = (r.bars for r in chart.rows)
    assert (before.kind, after.kind) == ("before", "after")
    assert before.width == pytest.approx(0.6 * width, abs=0.1)
    assert after.width == pytest.approx(0.8 * width, abs=0.1)
    assert exc_after.width == pytest.approx(0.2 * width, abs=0.1)
    assert (before.text, after.text, exc_before.text) == ("60.0%", "80.0%", "40.0%")
    assert all(b.x == chart.plot_left for r in chart.rows for b in r.bars)
    assert before.y < after.y < exc_before.y < exc_after.y
    assert [t.text for t in chart.ticks] == ["0%", "25%", "50%", "75%", "100%"]
    assert chart.rows[-1].bars[-1].y + 14 <= chart.plot_bottom <= chart.height


def test_before_after_of_nothing_is_no_picture() -> None:
    assert before_after([]) is None


def test_before_after_with_unknown_and_extreme_values() -> None:
    chart = before_after([Measure("Agreement", None, 250.0), Measure("x", -10.0, math.nan)])
    assert chart is not None
    (unknown, huge), (negative, nan) = (r.bars for r in chart.rows)
    assert (unknown.width, unknown.text) == (0.0, "—")
    assert huge.width == pytest.approx(chart.plot_right - chart.plot_left)  # clamped at 100%
    assert negative.width == 0.0
    assert (nan.width, nan.text) == (0.0, "—")


# --------------------------------------------------------------------------- frontier


def offer(n: int, gain: float, loss: float, current: bool = False) -> Offer:
    return Offer(n, f"Proposal {n}", gain, loss, f"/proposals/{n}", current)


def test_the_frontier_puts_more_gain_up_and_more_loss_right() -> None:
    chart = frontier(
        [offer(1, 2.0, 0.0), offer(2, 8.0, 1.5, current=True), offer(3, 12.0, 2.8)], 3.0
    )
    assert chart is not None
    dots = {d.proposal_id: d for d in chart.dots}
    assert dots[1].cx < dots[2].cx < dots[3].cx
    assert dots[1].cy > dots[2].cy > dots[3].cy
    assert chart.dots[-1].proposal_id == 2  # the current one is drawn last, on top
    assert dots[2].r > dots[1].r
    assert [d.href for d in chart.dots] == ["/proposals/1", "/proposals/3", "/proposals/2"]
    assert chart.zero_x == dots[1].cx  # no loss: at the left, inside the frame
    assert chart.plot_left < dots[1].cx < chart.plot_left + 20
    assert chart.ceiling_x is not None
    assert dots[3].cx < chart.ceiling_x <= chart.plot_right
    assert chart.zero_y is not None
    assert chart.zero_y > dots[1].cy
    assert "\u22121" not in " ".join(t.text for t in chart.x_ticks)  # no negative loss


def test_a_frontier_of_one_point_or_none() -> None:
    assert frontier([]) is None
    assert frontier([offer(1, math.nan, 1.0)]) is None
    chart = frontier([offer(7, 3.0, 1.0)])
    assert chart is not None
    (dot,) = chart.dots
    assert chart.plot_left < dot.cx < chart.plot_right
    assert chart.plot_top < dot.cy < chart.plot_bottom
    assert dot.label == "#7"


def test_a_frontier_with_a_gain_in_agreement_and_a_loss_in_automation() -> None:
    chart = frontier([offer(1, -2.0, -1.0), offer(2, 5.0, 2.0)])
    assert chart is not None
    assert chart.zero_x is not None
    assert chart.plot_left < chart.zero_x < chart.plot_right
    assert chart.zero_y is not None
    assert chart.plot_top < chart.zero_y < chart.plot_bottom
    assert any(t.text.startswith("\u2212") for t in chart.y_ticks)  # a minus sign


@given(st.lists(st.tuples(finite, finite), min_size=1, max_size=12), st.none() | finite)
def test_every_frontier_point_is_inside_the_picture(
    figures: list[tuple[float, float]], ceiling: float | None
) -> None:
    chart = frontier([offer(n, gain, loss) for n, (gain, loss) in enumerate(figures, 1)], ceiling)
    assert chart is not None
    for d in chart.dots:
        assert chart.plot_left <= d.cx <= chart.plot_right
        assert chart.plot_top <= d.cy <= chart.plot_bottom
        assert 0 <= d.label_x <= chart.width
        assert 0 <= d.label_y <= chart.height


# --------------------------------------------------------------------------- rates


def test_rates_draw_two_lines_and_mark_activations_inside_the_span() -> None:
    buckets = [day(0, 10, 5), day(1, 20, 2), day(3, 4, 0)]
    activations = [(T0 - timedelta(days=9), 1), (T0 + timedelta(days=1, hours=6), 2)]
    chart = rates_chart(buckets, activations)
    assert chart is not None
    automation, exceptions = chart.lines
    assert (automation.kind, exceptions.kind) == ("automation", "exceptions")
    assert len(automation.dots) == 3
    # 50% automated, then 90%, then 100%: higher is up (smaller y)
    ys = [y for _, y in automation.dots]
    assert ys[0] > ys[1] > ys[2] == chart.plot_top
    assert exceptions.dots[2][1] == chart.plot_bottom  # no exception: 0%
    xs = [x for x, _ in automation.dots]
    assert xs == sorted(xs)
    assert xs[0] > chart.plot_left
    assert xs[-1] < chart.plot_right
    assert automation.points == " ".join(f"{x:g},{y:g}" for x, y in automation.dots)
    (marker,) = chart.markers  # the first activation was before the log began
    assert (marker.number, marker.label) == (2, "v2")
    width = chart.plot_right - chart.plot_left  # 4 days, from day 0 to the end of day 3
    assert marker.x == pytest.approx(chart.plot_left + width * 1.25 / 4, abs=0.1)
    assert [t.text for t in chart.y_ticks] == ["0%", "25%", "50%", "75%", "100%"]
    assert chart.x_ticks[0].text == "02 Mar"


def test_activations_close_together_share_a_label() -> None:
    hour = timedelta(hours=1)
    activations = [(T0 + hour, 1), (T0 + 2 * hour, 2), (T0 + timedelta(days=5), 3)]
    chart = rates_chart([day(n) for n in range(10)], activations)
    assert chart is not None
    assert [(m.number, m.label) for m in chart.markers] == [(1, ""), (2, "v1, v2"), (3, "v3")]


def test_rates_of_no_decisions_are_no_picture() -> None:
    assert rates_chart([], []) is None
    assert rates_chart([day(0, 0, 0)], []) is None


def test_rates_of_one_bucket_sit_in_the_middle() -> None:
    chart = rates_chart([day(0, 3, 3)], [(T0 + timedelta(hours=1), 1)])
    assert chart is not None
    ((x, y),) = chart.lines[0].dots
    assert x == pytest.approx((chart.plot_left + chart.plot_right) / 2, abs=0.1)
    assert y == chart.plot_bottom  # all exceptions: 0% automated
    assert len(chart.markers) == 1


def test_many_buckets_keep_the_date_labels_few() -> None:
    chart = rates_chart([day(n) for n in range(60)], [])
    assert chart is not None
    assert 1 < len(chart.x_ticks) <= 6
