"""Writes to the published-evidence table: the one way in for commands and the demo loader."""

import pandas as pd
from django.db import transaction

from analytics.meta import validate_two_arm_counts
from analytics.models import IvigStart, PublishedStudy

YES_NO = {"yes": True, "no": False, "true": True, "false": False, "1": True, "0": False}


def _row_value(studies: pd.DataFrame, position: int, column: str) -> str:
    if column not in studies.columns:
        return ""
    value = studies[column].iloc[position]
    return "" if value is None or pd.isna(value) else str(value).strip()


def published_studies_load(*, studies: pd.DataFrame) -> tuple[int, int]:
    """Create or update each study by (study, year); returns (created, updated).

    Loading the same table twice changes nothing, so `load_demo` can call it on every run.
    Raises ValueError naming the row and column of the first bad value, before writing any.
    """
    clean = validate_two_arm_counts(studies)
    if "year" not in clean.columns:
        raise ValueError("missing column 'year'; studies are identified by study and year")
    rows = []
    for position in range(len(clean)):
        where = f"row {position + 1} (study {clean['study'].iloc[position]!r})"
        year = _row_value(clean, position, "year")
        if not year.isdigit() or not 1900 <= int(year) <= 2100:
            raise ValueError(f"{where}, column 'year': must be a year such as 2019, got {year!r}")
        nk_selection = _row_value(clean, position, "nk_selection").lower()
        if nk_selection not in YES_NO:
            raise ValueError(
                f"{where}, column 'nk_selection': must be yes or no, got {nk_selection!r}"
            )
        ivig_start = _row_value(clean, position, "ivig_start") or IvigStart.UNSPECIFIED
        if ivig_start not in IvigStart.values:
            raise ValueError(
                f"{where}, column 'ivig_start': must be one of {', '.join(IvigStart.values)}, "
                f"got {ivig_start!r}"
            )
        rows.append(
            {
                "study": clean["study"].iloc[position],
                "year": int(year),
                "defaults": {
                    "country": _row_value(clean, position, "country"),
                    "design": _row_value(clean, position, "design"),
                    "events_treated": int(clean["events_treated"].iloc[position]),
                    "total_treated": int(clean["total_treated"].iloc[position]),
                    "events_control": int(clean["events_control"].iloc[position]),
                    "total_control": int(clean["total_control"].iloc[position]),
                    "nk_selection": YES_NO[nk_selection],
                    "ivig_start": ivig_start,
                    "regimen": _row_value(clean, position, "regimen"),
                },
            }
        )
    created_count = 0
    with transaction.atomic():
        for row in rows:
            _, created = PublishedStudy.objects.update_or_create(
                study=row["study"], year=row["year"], defaults=row["defaults"]
            )
            created_count += created
    return created_count, len(rows) - created_count
