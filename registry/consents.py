"""Whether a signed consent covers a date: no dose may be given without one."""

import datetime as dt
from collections.abc import Iterable

ConsentPeriod = tuple[dt.date, dt.date | None]  # (signed_on, withdrawn_on)


def covers(periods: Iterable[ConsentPeriod], on: dt.date) -> bool:
    """True when some consent was signed on or before `on` and not withdrawn by then."""
    return any(
        signed_on <= on and (withdrawn_on is None or withdrawn_on > on)
        for signed_on, withdrawn_on in periods
    )
