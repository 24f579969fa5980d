"""Gestational age, the one place it is computed.

Gestational age counts from the first day of the last menstrual period (LMP), two weeks before
conception. A transfer of a day-N embryo is conception plus N days, so on the transfer date the
pregnancy is 14 + N days along; an ultrasound gives the age on the scan date directly. Every
pregnancy is stored with its LMP-equivalent date, from which the age on any date follows.
"""

import datetime as dt

DAYS_FROM_LMP_TO_CONCEPTION = 14


def lmp_from_transfer(transferred_on: dt.date, embryo_day: int) -> dt.date:
    return transferred_on - dt.timedelta(days=DAYS_FROM_LMP_TO_CONCEPTION + embryo_day)


def lmp_from_ultrasound(scanned_on: dt.date, ga_days_at_scan: int) -> dt.date:
    return scanned_on - dt.timedelta(days=ga_days_at_scan)


def conception_from_lmp(lmp_on: dt.date) -> dt.date:
    return lmp_on + dt.timedelta(days=DAYS_FROM_LMP_TO_CONCEPTION)


def ga_days(lmp_on: dt.date, on: dt.date) -> int:
    return (on - lmp_on).days


def date_at_ga(lmp_on: dt.date, ga_days: int) -> dt.date:
    """The date on which the pregnancy is `ga_days` old: where a rule in weeks meets a calendar."""
    return lmp_on + dt.timedelta(days=ga_days)


def format_ga(days: int) -> str:
    """Weeks+days, as clinicians write it: 237 days is "33+6"."""
    if days < 0:
        raise ValueError("gestational age cannot be negative")
    weeks, rest = divmod(days, 7)
    return f"{weeks}+{rest}"


def ga_from_weeks(weeks: int, days: int = 0) -> int:
    if not 0 <= days <= 6:
        raise ValueError("days must be 0-6")
    return weeks * 7 + days
