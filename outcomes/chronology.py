"""Date order between a pregnancy's events, as messages that name the field and the rule."""

import datetime as dt

from outcomes import gestation


def outcome_date_errors(
    *, ended_on: dt.date, lmp_on: dt.date, transferred_on: dt.date | None
) -> list[str]:
    errors = []
    conceived_on = gestation.conception_from_lmp(lmp_on)
    if ended_on <= conceived_on:
        errors.append(
            f"Ended on {ended_on:%Y-%m-%d} must be after conception ({conceived_on:%Y-%m-%d})."
        )
    if transferred_on is not None and ended_on < transferred_on:
        errors.append(
            f"Ended on {ended_on:%Y-%m-%d} must be on or after the embryo transfer "
            f"({transferred_on:%Y-%m-%d})."
        )
    return errors


def confirmation_date_errors(*, confirmed_on: dt.date, transferred_on: dt.date | None) -> list[str]:
    if transferred_on is not None and confirmed_on < transferred_on:
        return [
            f"Confirmed on {confirmed_on:%Y-%m-%d} must be on or after the embryo transfer "
            f"({transferred_on:%Y-%m-%d})."
        ]
    return []
