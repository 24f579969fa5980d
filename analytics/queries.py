"""The one place querysets become DataFrames; everything downstream is pandas and statsmodels."""

import pandas as pd

from analytics.models import PublishedStudy

PUBLISHED_STUDY_COLUMNS = [
    "study",
    "year",
    "country",
    "design",
    "events_treated",
    "total_treated",
    "events_control",
    "total_control",
    "nk_selection",
    "ivig_start",
    "regimen",
]


def published_studies_frame() -> pd.DataFrame:
    """Every published study, one row each, in the fixture CSV's vocabulary (one query)."""
    rows = list(PublishedStudy.objects.order_by("study", "year").values(*PUBLISHED_STUDY_COLUMNS))
    studies = pd.DataFrame(rows, columns=PUBLISHED_STUDY_COLUMNS)
    # Subgroup labels read "yes"/"no" whether the table came from the database or the CSV.
    studies["nk_selection"] = studies["nk_selection"].map({True: "yes", False: "no"})
    return studies
