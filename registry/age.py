import datetime as dt


def age_years(born_on: dt.date, on: dt.date) -> int:
    """Completed years of age on a date (a birthday on 29 February falls on 1 March)."""
    before_birthday = (on.month, on.day) < (born_on.month, born_on.day)
    return on.year - born_on.year - before_birthday
