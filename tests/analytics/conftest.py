from pathlib import Path

import pandas as pd
import pytest
from django.conf import settings

from analytics.evidence import read_studies_csv


@pytest.fixture
def published_csv() -> Path:
    """The eight controlled studies of seed 003, as shipped in fixtures/."""
    return Path(settings.BASE_DIR) / "fixtures" / "published_ivig_rpl_immune.csv"


@pytest.fixture
def published(published_csv) -> pd.DataFrame:
    return read_studies_csv(published_csv)


def two_arm(*rows: tuple) -> pd.DataFrame:
    """A small hand-written table: (study, events_treated, total_treated, events_control,
    total_control) per row."""
    return pd.DataFrame(
        rows,
        columns=["study", "events_treated", "total_treated", "events_control", "total_control"],
    )
