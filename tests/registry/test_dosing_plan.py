"""Planning a dose in whole vial steps inside the protocol's mg/kg range; no database."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry import dosing
from registry.dosing import DoseRefused, plan_dose_g, scig_weekly_dose_g
from registry.protocol_rules import ROUTE_IVIG, ROUTE_SCIG
from tests.registry import regimens

# Vial sizes of marketed products: IVIg 2.5, 5, 10, 20 g; SCIg 1, 2, 4, 10 g.
PRODUCT_STEPS_G = [Decimal(step) for step in ("1", "2", "2.5", "4", "5", "10", "20")]

weights_kg = st.decimals(min_value=30, max_value=250, places=1)
steps_g = st.sampled_from(PRODUCT_STEPS_G)
# Every dose range a protocol here can ask for: each regimen, by each route, in each phase.
mg_per_kg_ranges = st.sampled_from(
    sorted(
        {
            rules.mg_per_kg_range(route=route, ga_days=ga_days)
            for rules in regimens.ALL.values()
            for route in (ROUTE_IVIG, ROUTE_SCIG)
            for ga_days in (None, 8 * 7, 20 * 7)
        }
    )
)


def plan(weight_kg, low, high, step_g):
    return plan_dose_g(
        weight_kg=Decimal(weight_kg),
        mg_per_kg_min=low,
        mg_per_kg_max=high,
        vial_step_g=Decimal(step_g),
    )


def test_55_kg_at_600_to_800_with_a_5_g_step_gets_35_or_40_g_never_30_or_45():
    dose_g = plan(55, 600, 800, 5)
    assert dose_g in {Decimal(35), Decimal(40)}
    assert dose_g == Decimal(40)  # 38.5 g is the target; 40 g is the nearest step


def test_36_kg_with_only_a_10_g_step_is_refused_with_the_reason():
    with pytest.raises(DoseRefused) as refused:
        plan(36, 600, 800, 10)
    assert str(refused.value) == "no multiple of 10 g lies in 21.6-28.8 g (36 kg at 600-800 mg/kg)"


def test_a_refusal_is_a_value_error_so_forms_can_show_it():
    assert issubclass(DoseRefused, ValueError)


def test_the_target_is_the_middle_of_the_range():
    assert plan(60, 600, 800, 1) == Decimal(42)
    assert plan(60, 600, 800, "2.5") == Decimal("42.5")


def test_a_dose_above_the_plausible_200_g_is_refused():
    with pytest.raises(DoseRefused, match="outside the plausible 1-200 g"):
        plan(240, 900, 1000, 5)


def test_a_non_positive_weight_or_step_is_a_programming_error_not_a_refusal():
    with pytest.raises(ValueError, match="weight_kg"):
        plan(0, 600, 800, 5)
    with pytest.raises(ValueError, match="vial_step_g"):
        plan(55, 600, 800, 0)


def test_weekly_scig_is_a_quarter_of_monthly_ivig_at_factor_one():
    weekly_g = scig_weekly_dose_g(
        monthly_ivig_dose_g=Decimal(40), conversion_factor=Decimal("1.00"), vial_step_g=Decimal(1)
    )
    assert weekly_g == Decimal(10)


def test_weekly_scig_applies_the_conversion_factor_and_rounds_to_the_scig_step():
    weekly_g = scig_weekly_dose_g(
        monthly_ivig_dose_g=Decimal(40), conversion_factor=Decimal("1.37"), vial_step_g=Decimal(2)
    )
    assert weekly_g == Decimal(14)  # 13.7 g to the nearest 2 g


def test_weekly_scig_splits_over_the_weeks_of_the_ivig_interval():
    weekly_g = scig_weekly_dose_g(
        monthly_ivig_dose_g=Decimal(30),
        conversion_factor=Decimal(1),
        interval_days_ivig=21,
        vial_step_g=Decimal(1),
    )
    assert weekly_g == Decimal(10)


def test_weekly_scig_smaller_than_half_a_step_is_refused():
    with pytest.raises(DoseRefused, match="less than half of one 4 g step"):
        scig_weekly_dose_g(
            monthly_ivig_dose_g=Decimal(6), conversion_factor=Decimal(1), vial_step_g=Decimal(4)
        )


@given(weight_kg=weights_kg, step_g=steps_g, mg_range=mg_per_kg_ranges)
def test_every_planned_dose_is_whole_steps_inside_the_range_or_refused_for_a_reason(
    weight_kg, step_g, mg_range
):
    low, high = mg_range
    low_g, high_g = weight_kg * low / 1000, weight_kg * high / 1000
    try:
        dose_g = plan(weight_kg, low, high, step_g)
    except DoseRefused:
        # Refused only when truly no whole number of steps fits, or the dose is implausible.
        fits = [n * step_g for n in range(1, 201) if low_g <= n * step_g <= high_g]
        assert not fits or not any(dosing.DOSE_G_MIN <= g <= dosing.DOSE_G_MAX for g in fits)
        return
    assert low_g <= dose_g <= high_g
    assert dose_g % step_g == 0
    assert dosing.DOSE_G_MIN <= dose_g <= dosing.DOSE_G_MAX


@given(weight_kg=weights_kg, step_g=steps_g, mg_range=mg_per_kg_ranges)
def test_no_whole_step_is_nearer_the_target_than_the_planned_dose(weight_kg, step_g, mg_range):
    low, high = mg_range
    try:
        dose_g = plan(weight_kg, low, high, step_g)
    except DoseRefused:
        return
    target_g = weight_kg * (low + high) / 2000
    assert abs(dose_g - target_g) <= step_g / 2
