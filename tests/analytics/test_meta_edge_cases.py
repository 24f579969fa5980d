"""Zero cells, uninformative studies, too few studies, identical studies and bad input."""

import math

import numpy as np
import pandas as pd
import pytest

from analytics.meta import (
    egger_test,
    leave_one_out,
    pool_studies,
    pool_subgroups,
    study_effects,
    validate_two_arm_counts,
)
from tests.analytics.conftest import two_arm


def test_a_zero_cell_adds_half_to_all_four_cells_of_that_study_only():
    studies = two_arm(("Zero", 0, 10, 4, 10), ("Plain", 6, 10, 3, 10))
    effects, notes = study_effects(studies, measure="RR")
    zero, plain = effects.itertuples()
    # (0 + 0.5) / (10 + 1) over (4 + 0.5) / (10 + 1)
    assert zero.estimate == pytest.approx(0.5 / 4.5)
    assert zero.variance == pytest.approx(1 / 0.5 - 1 / 11 + 1 / 4.5 - 1 / 11)
    assert plain.estimate == pytest.approx(2.0)
    assert plain.variance == pytest.approx(1 / 6 - 1 / 10 + 1 / 3 - 1 / 10)
    assert list(effects["zero_cell_corrected"]) == [True, False]
    assert notes == ["Zero: a zero cell; 0.5 added to all four cells"]


def test_a_zero_cell_is_corrected_the_same_way_for_odds_ratios():
    effects, _ = study_effects(two_arm(("Zero", 0, 10, 4, 10)), measure="OR")
    assert effects["estimate"].iloc[0] == pytest.approx((0.5 / 10.5) / (4.5 / 6.5))


def test_a_study_with_every_patient_an_event_in_both_arms_is_left_out_with_a_note():
    studies = two_arm(("A", 8, 10, 4, 10), ("B", 6, 12, 3, 10), ("All", 5, 5, 7, 7))
    analysis = pool_studies(studies, measure="RR")
    assert list(analysis.studies["study"]) == ["A", "B"]
    assert analysis.k == 2
    assert "All: every patient had the event in both arms; left out of pooling" in analysis.notes


def test_a_study_with_no_events_in_either_arm_is_left_out_with_a_note():
    studies = two_arm(("A", 8, 10, 4, 10), ("B", 6, 12, 3, 10), ("None", 0, 9, 0, 11))
    analysis = pool_studies(studies, measure="OR")
    assert list(analysis.studies["study"]) == ["A", "B"]
    assert "None: no events in either arm; left out of pooling" in analysis.notes


def test_pooling_refuses_when_fewer_than_two_studies_are_left():
    studies = two_arm(("A", 8, 10, 4, 10), ("None", 0, 9, 0, 11))
    with pytest.raises(ValueError, match=r"at least two studies .* got 1 \(None: no events"):
        pool_studies(studies, measure="RR")


def test_two_studies_pool_but_eggers_test_refuses_clearly():
    studies = two_arm(("A", 8, 10, 4, 10), ("B", 6, 12, 3, 10))
    assert pool_studies(studies, measure="RR").k == 2
    with pytest.raises(ValueError, match="Egger's regression test needs at least 3 studies"):
        egger_test(studies, measure="RR")


def test_identical_studies_have_no_heterogeneity_and_random_equals_fixed():
    studies = two_arm(*[(name, 12, 20, 6, 20) for name in ("A", "B", "C")])
    analysis = pool_studies(studies, measure="RR")
    heterogeneity = analysis.heterogeneity
    assert heterogeneity.q == pytest.approx(0)
    assert heterogeneity.tau2 == 0
    assert heterogeneity.i2_percent == 0
    assert heterogeneity.p_value == pytest.approx(1)
    assert analysis.random == analysis.fixed
    assert analysis.fixed.estimate == pytest.approx(2.0)
    np.testing.assert_allclose(analysis.studies["weight_random_percent"], 100 / 3)


def test_identical_studies_leave_eggers_test_undefined_with_a_reason():
    studies = two_arm(*[(name, 12, 20, 6, 20) for name in ("A", "B", "C")])
    with pytest.raises(ValueError, match="same standard error"):
        egger_test(studies, measure="RR")


def test_i2_is_never_negative_when_q_is_below_its_degrees_of_freedom():
    studies = two_arm(("A", 12, 20, 6, 20), ("B", 13, 20, 6, 20), ("C", 12, 20, 7, 20))
    heterogeneity = pool_studies(studies, measure="RR").heterogeneity
    assert heterogeneity.q < heterogeneity.df
    assert heterogeneity.i2_percent == 0
    assert heterogeneity.tau2 == 0


def test_weights_are_percentages_that_sum_to_100(published):
    studies = pool_studies(published, measure="OR").studies
    assert studies["weight_fixed_percent"].sum() == pytest.approx(100)
    assert studies["weight_random_percent"].sum() == pytest.approx(100)


def test_leave_one_out_of_two_studies_reports_each_study_alone_without_i2():
    studies = two_arm(("A", 8, 10, 4, 10), ("B", 6, 12, 3, 10))
    table = leave_one_out(studies, measure="RR")
    assert list(table["omitted"]) == ["A", "B"]
    # Omitting A leaves B alone, and the other way round.
    assert list(table["estimate"]) == pytest.approx([(6 / 12) / (3 / 10), (8 / 10) / (4 / 10)])
    assert table["i2_percent"].isna().all()


def test_subgroups_by_a_missing_column_name_the_column():
    studies = two_arm(("A", 8, 10, 4, 10), ("B", 6, 12, 3, 10))
    with pytest.raises(ValueError, match="subgroup column 'dose' is not in the table"):
        pool_subgroups(studies, column="dose")


def test_subgroups_test_for_differences_between_groups(published):
    groups = pool_subgroups(published, column="nk_selection", measure="RR", model="random")
    # Q between the two random-effects subgroup estimates on 1 df. The paper compared them by
    # meta-regression instead (P = 0.266), a different test, so there is no printed value here.
    assert groups.difference.df == 1
    assert 0 < groups.difference.p_value < 1


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            ("B", -1, 10, 3, 10),
            r"row 2 \(study 'B'\), column 'events_treated': must not be negative",
        ),
        (("B", 2.5, 10, 3, 10), r"row 2 \(study 'B'\), column 'events_treated': must be a whole"),
        (("B", "two", 10, 3, 10), r"row 2 \(study 'B'\), column 'events_treated': must be a whole"),
        (("B", 2, 10, 11, 10), r"row 2 \(study 'B'\), column 'events_control': 11 events is more"),
        (("B", 2, 10, 3, None), r"row 2 \(study 'B'\), column 'total_control': is blank"),
        (("B", 2, 0, 0, 10), r"row 2 \(study 'B'\), column 'total_treated': must be at least 1"),
        (("", 2, 10, 3, 10), r"row 2, column 'study': is blank"),
    ],
)
def test_bad_counts_are_refused_naming_row_and_column(row, message):
    studies = two_arm(("A", 8, 10, 4, 10), row, ("C", 5, 10, 5, 10))
    with pytest.raises(ValueError, match=message):
        validate_two_arm_counts(studies)


def test_a_missing_column_is_named():
    studies = two_arm(("A", 8, 10, 4, 10)).drop(columns=["total_control"])
    with pytest.raises(ValueError, match="missing column\\(s\\) 'total_control'"):
        pool_studies(studies)


def test_the_fixture_column_names_for_the_treated_arm_are_accepted():
    studies = two_arm(("A", 8, 10, 4, 10), ("B", 6, 12, 3, 10)).rename(
        columns={"events_treated": "events_ivig", "total_treated": "total_ivig"}
    )
    assert pool_studies(studies).k == 2


def test_whole_numbers_written_as_decimals_are_accepted():
    clean = validate_two_arm_counts(two_arm(("A", "8.0", 10.0, " 4 ", np.int64(10))))
    assert clean.loc[0, ["events_treated", "total_treated", "events_control"]].tolist() == [
        8,
        10,
        4,
    ]


def test_an_unknown_measure_is_refused():
    with pytest.raises(ValueError, match="measure must be one of RR, OR"):
        pool_studies(two_arm(("A", 8, 10, 4, 10), ("B", 6, 12, 3, 10)), measure="RD")


def test_pooled_values_are_all_finite(published):
    analysis = pool_studies(published, measure="OR")
    for pooled in (analysis.fixed, analysis.random):
        assert all(math.isfinite(v) for v in vars(pooled).values())
    assert isinstance(analysis.studies, pd.DataFrame)
