"""The registry read beside the published arms, and as one more row in the pooling."""

import pytest

from analytics.cohort_comparison import add_registry_comparison, cohort_beside_arms
from analytics.meta import pool_studies


def test_each_treated_arm_gets_its_exact_clopper_pearson_interval(published):
    arms = cohort_beside_arms(published, cohort_events=30, cohort_total=41, label="Registry")
    perricone = arms.set_index("label").loc["Perricone 2008"]
    assert (perricone.events, perricone.total) == (12, 12)
    assert perricone.proportion == 1.0
    # Exact for 12/12: the lower limit is (alpha/2) ** (1/12); the upper limit is 1.
    assert perricone.ci_low == pytest.approx(0.025 ** (1 / 12))
    assert perricone.ci_high == 1.0


def test_the_registry_cohort_comes_last_and_flagged(published):
    arms = cohort_beside_arms(published, cohort_events=30, cohort_total=41, label="Registry")
    assert len(arms) == 9
    registry = arms.iloc[-1]
    assert (registry.label, registry.events, registry.total) == ("Registry", 30, 41)
    assert bool(registry.is_registry)
    assert registry.ci_low < 30 / 41 < registry.ci_high
    assert not arms.iloc[:-1]["is_registry"].any()


def test_impossible_cohort_counts_are_refused(published):
    with pytest.raises(ValueError, match="column 'events_treated': 42 events is more than"):
        cohort_beside_arms(published, cohort_events=42, cohort_total=41, label="Registry")


def test_the_registry_comparison_is_pooled_as_one_more_flagged_row(published):
    combined = add_registry_comparison(
        published,
        label="Registry",
        events_treated=30,
        total_treated=41,
        events_control=5,
        total_control=12,
    )
    assert list(combined["is_registry"]) == [False] * 8 + [True]
    analysis = pool_studies(combined, measure="RR")
    assert analysis.k == 9
    registry = analysis.studies.set_index("study").loc["Registry"]
    assert registry.estimate == pytest.approx((30 / 41) / (5 / 12))


def test_the_registry_label_must_not_clash_with_a_published_study(published):
    with pytest.raises(ValueError, match="'Ahmadi' is already in the table"):
        add_registry_comparison(
            published,
            label="Ahmadi",
            events_treated=1,
            total_treated=2,
            events_control=1,
            total_control=2,
        )
