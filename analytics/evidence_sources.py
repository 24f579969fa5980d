"""Where a table of studies comes from: a CSV file or the PublishedStudy table."""

from pathlib import Path

import pandas as pd

from analytics.evidence import read_studies_csv
from analytics.queries import published_studies_frame


def studies_table(*, csv_path: Path | None, from_db: bool) -> pd.DataFrame:
    """Exactly one source; ValueError when there is none, or both, or no rows."""
    if from_db and csv_path is not None:
        raise ValueError("give either a CSV path or --from-db, not both")
    if from_db:
        studies = published_studies_frame()
        if studies.empty:
            raise ValueError(
                "no published studies in the database; run `manage.py load_published_evidence`"
            )
        return studies
    if csv_path is None:
        raise ValueError("give a CSV path, or --from-db to use the published studies table")
    try:
        return read_studies_csv(csv_path)
    except FileNotFoundError:
        raise ValueError("no such file") from None


def source_name(*, csv_path: Path | None, from_db: bool) -> str:
    """What to put before an error message, so it says which table was wrong."""
    return "PublishedStudy table" if from_db or csv_path is None else str(csv_path)
