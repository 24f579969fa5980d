"""The registry's own patients read beside the published studies."""

import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from analytics.meta import CONFIDENCE_LEVEL, COUNT_COLUMNS, validate_two_arm_counts


def _exact_interval(events: int, total: int) -> tuple[float, float]:
    # Clopper-Pearson: arms of 7 to 80 patients with rates near 100% are where the Wald
    # interval runs past 1 and the exact one does not.
    low, high = proportion_confint(events, total, alpha=1 - CONFIDENCE_LEVEL, method="beta")
    return float(low), float(high)


def cohort_beside_arms(
    published: pd.DataFrame, *, cohort_events: int, cohort_total: int, label: str
) -> pd.DataFrame:
    """Each published treated arm's event rate with its exact 95% CI, then the registry cohort.

    Columns: label, events, total, proportion, ci_low, ci_high (proportions, 0 to 1),
    is_registry. The cohort's counts are checked like a study's: whole, not negative,
    events no more than total, total at least 1.
    """
    clean = validate_two_arm_counts(published)
    validate_two_arm_counts(
        pd.DataFrame(
            {
                "study": [label],
                "events_treated": [cohort_events],
                "total_treated": [cohort_total],
                # The cohort has no control arm here; a placeholder keeps one validator.
                "events_control": [0],
                "total_control": [1],
            }
        )
    )
    rows = []
    for study in clean.itertuples():
        year = getattr(study, "year", None)
        rows.append(
            {
                "label": f"{study.study} {year}" if year not in (None, "") else study.study,
                "events": study.events_treated,
                "total": study.total_treated,
                "is_registry": False,
            }
        )
    rows.append(
        {"label": label, "events": cohort_events, "total": cohort_total, "is_registry": True}
    )
    arms = pd.DataFrame(rows)
    arms["events"] = arms["events"].astype("int64")
    arms["total"] = arms["total"].astype("int64")
    arms["proportion"] = arms["events"] / arms["total"]
    intervals = [_exact_interval(row.events, row.total) for row in arms.itertuples(index=False)]
    arms["ci_low"] = [low for low, _ in intervals]
    arms["ci_high"] = [high for _, high in intervals]
    return arms[["label", "events", "total", "proportion", "ci_low", "ci_high", "is_registry"]]


def add_registry_comparison(
    studies: pd.DataFrame,
    *,
    label: str,
    events_treated: int,
    total_treated: int,
    events_control: int,
    total_control: int,
) -> pd.DataFrame:
    """The published table plus the registry's own treated-versus-control row, flagged.

    The new row has `is_registry` True (False on every published row), so the pooling includes
    it and the forest plot can mark it; other attribute columns are left blank for it.
    """
    registry_row = validate_two_arm_counts(
        pd.DataFrame(
            {
                "study": [label],
                "events_treated": [events_treated],
                "total_treated": [total_treated],
                "events_control": [events_control],
                "total_control": [total_control],
            }
        )
    )
    published = validate_two_arm_counts(studies)
    if label in set(published["study"]):
        raise ValueError(f"a study called {label!r} is already in the table; pick another label")
    if "is_registry" not in published.columns:
        published["is_registry"] = False
    published["is_registry"] = published["is_registry"].fillna(False).astype(bool)
    registry_row["is_registry"] = True
    combined = pd.concat([published, registry_row], ignore_index=True)
    for column in COUNT_COLUMNS:
        combined[column] = combined[column].astype("int64")
    combined["is_registry"] = combined["is_registry"].astype(bool)
    return combined
