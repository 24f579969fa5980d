"""The whole synthesis of a table of two-arm studies, once, for every place that shows it.

The `metaanalysis` and `plot_evidence` commands and the admin evidence page all read an
`EvidenceSynthesis`; its `as_json()` is the command's `--json` output and never holds NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analytics.meta import (
    EggerTest,
    Heterogeneity,
    Measure,
    MetaAnalysis,
    Model,
    Pooled,
    SubgroupAnalysis,
    egger_test,
    leave_one_out,
    pool_studies,
    pool_subgroups,
    standardise_columns,
)


def read_studies_csv(path: str | Path) -> pd.DataFrame:
    """Read a CSV of studies as text, so validation sees what was written, not pandas' guess."""
    try:
        studies = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise ValueError("the file is empty; expected a header row and studies") from None
    except pd.errors.ParserError as exc:
        raise ValueError(f"not a readable CSV ({exc})") from None
    studies.columns = [str(column).strip() for column in studies.columns]
    return standardise_columns(studies)


@dataclass(frozen=True)
class EvidenceSynthesis:
    model: Model
    analysis: MetaAnalysis
    leave_one_out: pd.DataFrame
    egger: EggerTest | None
    subgroups: SubgroupAnalysis | None
    notes: list[str] = field(default_factory=list)

    @property
    def measure(self) -> Measure:
        return self.analysis.measure

    def as_json(self) -> dict:
        """Plain JSON values; any non-finite number becomes null with a note saying where."""
        analysis = self.analysis
        heterogeneity = analysis.heterogeneity
        report = {
            "measure": analysis.measure,
            "k": analysis.k,
            "fixed": _pooled_json(analysis.fixed),
            "random": _pooled_json(analysis.random),
            "heterogeneity": _heterogeneity_json(heterogeneity) if heterogeneity else None,
            "studies": [
                {
                    "study": row.study,
                    "estimate": row.estimate,
                    "ci_low": row.ci_low,
                    "ci_high": row.ci_high,
                    "weight_fixed": row.weight_fixed_percent,
                    "weight_random": row.weight_random_percent,
                }
                for row in analysis.studies.itertuples()
            ],
            "leave_one_out": [
                {
                    "omitted": row.omitted,
                    "estimate": row.estimate,
                    "ci_low": row.ci_low,
                    "ci_high": row.ci_high,
                    "i2": row.i2_percent,
                }
                for row in self.leave_one_out.itertuples()
            ],
            "egger": (
                {"intercept": self.egger.intercept, "p_value": self.egger.p_value}
                if self.egger
                else None
            ),
            "subgroups": _subgroups_json(self.subgroups) if self.subgroups else {},
        }
        notes = list(self.notes)
        report = _finite_or_null(report, path="", notes=notes)
        report["notes"] = notes
        return report


def synthesise_evidence(
    studies: pd.DataFrame,
    *,
    measure: Measure = "RR",
    model: Model = "random",
    subgroup_column: str | None = None,
) -> EvidenceSynthesis:
    """Pool, leave one out, test for small-study effects and pool subgroups, in one go."""
    analysis = pool_studies(studies, measure=measure)
    notes = list(analysis.notes)
    try:
        egger = egger_test(studies, measure=measure)
    except ValueError as exc:
        egger = None
        notes.append(str(exc))
    subgroups = None
    if subgroup_column:
        subgroups = pool_subgroups(studies, column=subgroup_column, measure=measure, model=model)
        notes.extend(note for note in subgroups.notes if note not in notes)
        notes.extend(
            f"subgroup {subgroup_column}={group.value}: a single study; shown as itself"
            for group in subgroups.groups
            if group.analysis.k == 1
        )
    return EvidenceSynthesis(
        model=model,
        analysis=analysis,
        leave_one_out=leave_one_out(studies, measure=measure, model=model),
        egger=egger,
        subgroups=subgroups,
        notes=notes,
    )


def _pooled_json(pooled: Pooled) -> dict:
    return {
        "estimate": pooled.estimate,
        "ci_low": pooled.ci_low,
        "ci_high": pooled.ci_high,
        "p_value": pooled.p_value,
    }


def _heterogeneity_json(heterogeneity: Heterogeneity) -> dict:
    return {
        "q": heterogeneity.q,
        "df": heterogeneity.df,
        "p_value": heterogeneity.p_value,
        "i2": heterogeneity.i2_percent,
        "tau2": heterogeneity.tau2,
    }


def _subgroups_json(subgroups: SubgroupAnalysis) -> dict:
    return {
        "column": subgroups.column,
        "model": subgroups.model,
        "groups": {
            group.value: {
                "k": group.analysis.k,
                "studies": list(group.analysis.studies["study"]),
                "fixed": _pooled_json(group.analysis.fixed),
                "random": _pooled_json(group.analysis.random),
                "heterogeneity": (
                    _heterogeneity_json(group.analysis.heterogeneity)
                    if group.analysis.heterogeneity
                    else None
                ),
            }
            for group in subgroups.groups
        },
        "difference": (
            {
                "q": subgroups.difference.q,
                "df": subgroups.difference.df,
                "p_value": subgroups.difference.p_value,
            }
            if subgroups.difference
            else None
        ),
    }


def _finite_or_null(value: object, *, path: str, notes: list[str]) -> object:
    """Python scalars only, with NaN and infinities replaced by null (JSON has no NaN)."""
    if isinstance(value, dict):
        return {
            key: _finite_or_null(item, path=f"{path}.{key}" if path else key, notes=notes)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [
            _finite_or_null(item, path=f"{path}[{index}]", notes=notes)
            for index, item in enumerate(value)
        ]
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        if not math.isfinite(number):
            notes.append(f"{path} was {number} and is reported as null")
            return None
        return number
    return value
