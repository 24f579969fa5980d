"""analytics.stats on small hand-written counts and frames; no database."""

import json
import math

import pandas as pd
import pytest

from analytics import stats


def test_an_exact_interval_is_clopper_pearson_as_seed_000_reports_it():
    result = stats.proportion(13, 15, pending=0)
    assert round(result.rate * 100, 1) == 86.7
    assert (round(result.ci_low * 100, 1), round(result.ci_high * 100, 1)) == (59.5, 98.3)
    # Wilson is narrower at the top and never reaches 100%.
    assert result.ci_low < result.wilson_low and result.wilson_high < result.ci_high


def test_zero_events_have_an_interval_from_zero():
    result = stats.proportion(0, 13)
    assert result.rate == 0 and result.ci_low == 0 and 0.2 < result.ci_high < 0.3


def test_all_events_have_an_interval_up_to_one():
    result = stats.proportion(5, 5)
    assert result.rate == 1 and result.ci_high == 1 and result.ci_low < 1


def test_no_denominator_is_no_data_never_nan():
    result = stats.proportion(0, 0)
    assert result.rate is None and result.ci_low is None and result.note == stats.NO_DATA
    json.dumps(result.as_json(), allow_nan=False)


def test_all_pending_says_so():
    result = stats.proportion(0, 0, pending=4)
    assert result.note == "no data: all 4 pending"
    assert result.as_json()["pending"] == 4


def test_pending_appears_in_json_only_where_it_applies():
    assert "pending" not in stats.proportion(1, 2).as_json()
    assert stats.proportion(1, 2, pending=0).as_json()["pending"] == 0


@pytest.mark.parametrize("events,total", [(3, 2), (-1, 2), (1.5, 2), (True, 2)])
def test_impossible_counts_are_refused(events, total):
    with pytest.raises(ValueError):
        stats.proportion(events, total)


def test_proportion_of_leaves_pending_rows_out_of_the_denominator():
    rows = pd.DataFrame(
        {
            "treated": [True, True, True, True, False],
            "live_birth": [True, False, False, False, True],
            "pending": [False, False, True, True, False],
        }
    )
    result = stats.proportion_of(rows, event="live_birth", pending="pending", where="treated")
    assert (result.events, result.total, result.pending) == (1, 2, 2)


def test_proportions_by_counts_each_group_and_says_no_data_for_an_all_pending_one():
    rows = pd.DataFrame(
        {
            "route": ["ivig", "ivig", "scig", "scig"],
            "live_birth": [True, False, False, False],
            "pending": [False, False, True, True],
        }
    )
    table = stats.proportions_by(rows, group="route", event="live_birth", pending="pending")
    assert table.loc["ivig", ["events", "total", "pending"]].tolist() == [1, 2, 0]
    assert table.loc["scig", "total"] == 0 and table.loc["scig", "note"] == "no data: all 2 pending"
    assert stats.proportion_from_row(table.loc["scig"]).rate is None


def test_proportions_by_an_empty_frame_is_an_empty_table():
    rows = pd.DataFrame({"route": [], "live_birth": [], "pending": []})
    table = stats.proportions_by(rows, group="route", event="live_birth", pending="pending")
    assert table.empty


def test_a_comparison_gives_rr_rd_nnt_and_fisher():
    result = stats.compare(
        stats.proportion(13, 15), stats.proportion(9, 30), label_a="ivig", label_b="control"
    )
    assert result.risk_ratio == pytest.approx((13 / 15) / (9 / 30))
    assert result.rr_ci_low < result.risk_ratio < result.rr_ci_high
    assert result.risk_difference == pytest.approx(13 / 15 - 9 / 30)
    assert result.nnt == pytest.approx(1 / result.risk_difference)
    assert result.nnt_favours == "ivig"
    # The RD's interval excludes 0, so the NNT has one: 1/upper to 1/lower.
    assert result.nnt_ci_low == pytest.approx(1 / result.rd_ci_high)
    assert result.nnt_ci_high == pytest.approx(1 / result.rd_ci_low)
    assert 0 < result.fisher_p < 0.001


def test_a_zero_cell_adds_a_half_for_the_risk_ratio_and_says_so():
    result = stats.compare(stats.proportion(0, 10), stats.proportion(5, 10))
    assert result.risk_ratio == pytest.approx((0.5 / 11) / (5.5 / 11))
    assert any("0.5 added" in note for note in result.notes)
    assert math.isfinite(result.rr_ci_high)


def test_no_events_in_either_group_leaves_the_risk_ratio_out():
    result = stats.compare(stats.proportion(0, 10), stats.proportion(0, 12))
    assert result.risk_ratio is None and result.fisher_p == 1.0
    assert result.risk_difference == 0 and result.nnt is None
    json.dumps(result.as_json(), allow_nan=False)


def test_an_nnt_whose_rd_interval_spans_zero_has_no_interval():
    result = stats.compare(stats.proportion(5, 10), stats.proportion(4, 10))
    assert result.nnt == pytest.approx(10)
    assert result.nnt_ci_low is None and result.nnt_ci_high is None
    assert any("infinity" in note for note in result.notes)


def test_comparing_with_an_empty_group_is_no_data():
    result = stats.compare(stats.proportion(3, 4), stats.proportion(0, 0), label_b="scig")
    assert result.risk_ratio is None and result.fisher_p is None
    assert result.notes == ("no data in scig: nothing to compare",)


def test_the_binomial_test_is_one_sided_against_thirty_percent():
    result = stats.binomial_test_against(stats.proportion(13, 15))
    assert result.reference_rate == 0.30 and result.alternative == "greater"
    assert result.p_value == pytest.approx(8.72e-06, rel=1e-2)
    assert stats.binomial_test_against(stats.proportion(3, 15)).p_value > 0.5


def test_the_binomial_test_of_nothing_is_no_data():
    result = stats.binomial_test_against(stats.proportion(0, 0))
    assert result.p_value is None and result.note == stats.NO_DATA


def test_a_rate_per_100_has_an_exact_poisson_interval():
    result = stats.rate_per(6, 200)
    assert result.rate == 3.0
    assert result.ci_low < 3.0 < result.ci_high
    assert stats.rate_per(0, 0).rate is None


def test_a_spread_is_median_and_quartiles_and_empty_is_no_data():
    result = stats.spread(pd.Series([1, 2, 3, 4, None]))
    assert (result.n, result.median, result.q1, result.q3) == (4, 2.5, 1.75, 3.25)
    empty = stats.spread(pd.Series([], dtype="float64"))
    assert empty.n == 0 and empty.median is None and empty.note == stats.NO_DATA
