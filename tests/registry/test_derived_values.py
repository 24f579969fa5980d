"""The small pure functions that derive values; no database."""

import datetime as dt
import re
from decimal import Decimal

import pytest

from outcomes import chronology, gestation
from registry import consents, dosing, study_ids
from registry.age import age_years


def test_age_counts_completed_years():
    assert age_years(dt.date(1983, 6, 15), dt.date(2025, 6, 14)) == 41
    assert age_years(dt.date(1983, 6, 15), dt.date(2025, 6, 15)) == 42


def test_age_of_a_leap_day_birthday_turns_on_first_of_march():
    assert age_years(dt.date(2000, 2, 29), dt.date(2025, 2, 28)) == 24
    assert age_years(dt.date(2000, 2, 29), dt.date(2025, 3, 1)) == 25


def test_mg_per_kg_is_grams_times_a_thousand_over_kilograms():
    assert dosing.dose_mg_per_kg(Decimal("40"), Decimal("55")) == Decimal("727.3")
    assert dosing.dose_mg_per_kg(Decimal("35"), Decimal("55")) == Decimal("636.4")


def test_mg_per_kg_refuses_a_zero_weight():
    with pytest.raises(ValueError, match="weight_kg"):
        dosing.dose_mg_per_kg(Decimal("40"), Decimal("0"))


def test_gestational_age_is_written_weeks_plus_days():
    assert gestation.format_ga(236) == "33+5"
    assert gestation.format_ga(261) == "37+2"
    assert gestation.format_ga(238) == "34+0"
    assert gestation.format_ga(0) == "0+0"


def test_gestational_age_cannot_be_negative():
    with pytest.raises(ValueError):
        gestation.format_ga(-1)


def test_a_day_5_transfer_is_2_weeks_5_days_pregnant_on_the_day():
    transferred_on = dt.date(2025, 3, 3)
    lmp_on = gestation.lmp_from_transfer(transferred_on, embryo_day=5)
    assert lmp_on == dt.date(2025, 2, 12)
    assert gestation.format_ga(gestation.ga_days(lmp_on, transferred_on)) == "2+5"


def test_an_ultrasound_dates_the_pregnancy_back_from_the_scan():
    lmp_on = gestation.lmp_from_ultrasound(dt.date(2025, 5, 1), ga_days_at_scan=7 * 7 + 2)
    assert gestation.ga_days(lmp_on, dt.date(2025, 5, 1)) == 51
    assert gestation.conception_from_lmp(lmp_on) == lmp_on + dt.timedelta(days=14)


def test_weeks_and_days_convert_to_days():
    assert gestation.ga_from_weeks(33, 5) == 236
    with pytest.raises(ValueError):
        gestation.ga_from_weeks(33, 7)


def test_study_ids_are_random_and_carry_only_the_site_code():
    drawn = {study_ids.new_study_id("MTL") for _ in range(200)}
    assert len(drawn) == 200
    assert all(re.match(study_ids.PATTERN, sid) for sid in drawn)
    assert all(sid.startswith("MTL-") for sid in drawn)


def test_a_consent_covers_the_days_from_signing_until_withdrawal():
    periods = [(dt.date(2025, 1, 6), dt.date(2025, 6, 1))]
    assert not consents.covers(periods, dt.date(2025, 1, 5))
    assert consents.covers(periods, dt.date(2025, 1, 6))
    assert consents.covers(periods, dt.date(2025, 5, 31))
    assert not consents.covers(periods, dt.date(2025, 6, 1))
    assert not consents.covers([], dt.date(2025, 1, 6))


def test_an_outcome_before_its_transfer_or_conception_is_named():
    errors = chronology.outcome_date_errors(
        ended_on=dt.date(2025, 2, 20),
        lmp_on=dt.date(2025, 2, 12),
        transferred_on=dt.date(2025, 3, 3),
    )
    assert errors == [
        "Ended on 2025-02-20 must be after conception (2025-02-26).",
        "Ended on 2025-02-20 must be on or after the embryo transfer (2025-03-03).",
    ]
    assert (
        chronology.outcome_date_errors(
            ended_on=dt.date(2025, 11, 1),
            lmp_on=dt.date(2025, 2, 12),
            transferred_on=dt.date(2025, 3, 3),
        )
        == []
    )
