"""Pooling two-arm binary studies the way published meta-analyses do it.

Effects are log risk ratios or log odds ratios from `statsmodels.stats.meta_analysis`, pooled by
fixed-effect inverse variance and DerSimonian-Laird random effects with z-based 95% CIs, as
RevMan and Comprehensive Meta-Analysis do. Everything here is a function of a pandas DataFrame
with one row per study (`study, events_treated, total_treated, events_control, total_control`,
any other columns kept as attributes) and returns plain values; nothing touches the database.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.meta_analysis import combine_effects, effectsize_2proportions

from analytics.options import MEASURES, Measure, Model

STATSMODELS_STATISTIC = {"RR": "risk-ratio", "OR": "odds-ratio"}

COUNT_COLUMNS = ("events_treated", "total_treated", "events_control", "total_control")
REQUIRED_COLUMNS = ("study", *COUNT_COLUMNS)
# The published fixture names its treated arm after the treatment.
COLUMN_ALIASES = {"events_ivig": "events_treated", "total_ivig": "total_treated"}

# Added to all four cells of a study with a zero cell (Cochrane Handbook 10.4.4.2).
ZERO_CELL_CORRECTION = 0.5
CONFIDENCE_LEVEL = 0.95
Z_CRITICAL = float(stats.norm.isf((1 - CONFIDENCE_LEVEL) / 2))
EGGER_MIN_STUDIES = 3


@dataclass(frozen=True)
class Pooled:
    """One pooled estimate; `estimate` and the CI are on the ratio scale."""

    log_estimate: float
    se_log: float
    estimate: float
    ci_low: float
    ci_high: float
    p_value: float

    @classmethod
    def from_log(cls, log_estimate: float, se_log: float) -> Pooled:
        z = log_estimate / se_log if se_log > 0 else math.inf
        return cls(
            log_estimate=float(log_estimate),
            se_log=float(se_log),
            estimate=math.exp(log_estimate),
            ci_low=math.exp(log_estimate - Z_CRITICAL * se_log),
            ci_high=math.exp(log_estimate + Z_CRITICAL * se_log),
            p_value=float(2 * stats.norm.sf(abs(z))),
        )


@dataclass(frozen=True)
class Heterogeneity:
    q: float
    df: int
    p_value: float
    i2_percent: float
    tau2: float


@dataclass(frozen=True)
class MetaAnalysis:
    measure: Measure
    k: int
    fixed: Pooled
    random: Pooled
    # None when a single study is pooled: there is nothing to be heterogeneous with.
    heterogeneity: Heterogeneity | None
    # One row per pooled study: the input columns plus log_effect, variance, se_log, estimate,
    # ci_low, ci_high, zero_cell_corrected, weight_fixed_percent, weight_random_percent.
    studies: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def pooled(self, model: Model) -> Pooled:
        return self.fixed if model == "fixed" else self.random


@dataclass(frozen=True)
class Subgroup:
    value: str
    analysis: MetaAnalysis


@dataclass(frozen=True)
class SubgroupAnalysis:
    column: str
    model: Model
    groups: list[Subgroup]
    # Cochran's Q across the subgroup estimates of `model` (the RevMan test for subgroup
    # differences); None when fewer than two subgroups could be pooled.
    difference: Heterogeneity | None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class EggerTest:
    k: int
    intercept: float
    intercept_se: float
    slope: float
    p_value: float


def standardise_columns(studies: pd.DataFrame) -> pd.DataFrame:
    """Rename the fixture's treatment-named columns to the generic ones."""
    for alias, column in COLUMN_ALIASES.items():
        if alias in studies.columns and column in studies.columns:
            raise ValueError(f"columns {alias!r} and {column!r} both given; keep one of them")
    return studies.rename(columns=COLUMN_ALIASES)


def _study_name(value: object) -> str:
    return "" if value is None or pd.isna(value) else str(value).strip()


def _row_label(studies: pd.DataFrame, position: int) -> str:
    """ "row 3 (study 'Mahmoud')": rows count studies from 1, not counting the header."""
    study = _study_name(studies["study"].iloc[position]) if "study" in studies.columns else ""
    return f"row {position + 1} (study {study!r})" if study else f"row {position + 1}"


def _whole_number(value: object, *, where: str, column: str) -> int:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        raise ValueError(f"{where}, column {column!r}: is blank; a count is required")
    if isinstance(value, bool | np.bool_):
        raise ValueError(f"{where}, column {column!r}: must be a whole number, got {value!r}")
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise ValueError(f"{where}, column {column!r}: is blank; a count is required")
        try:
            number = float(text)
        except ValueError:
            raise ValueError(
                f"{where}, column {column!r}: must be a whole number, got {value!r}"
            ) from None
    else:
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ValueError(
                f"{where}, column {column!r}: must be a whole number, got {value!r}"
            ) from None
    if not math.isfinite(number) or number != int(number):
        raise ValueError(f"{where}, column {column!r}: must be a whole number, got {value!r}")
    if number < 0:
        raise ValueError(f"{where}, column {column!r}: must not be negative, got {value!r}")
    return int(number)


def validate_two_arm_counts(studies: pd.DataFrame) -> pd.DataFrame:
    """Return a copy with whole-number counts, or raise ValueError naming the row and column."""
    studies = standardise_columns(studies)
    missing = [column for column in REQUIRED_COLUMNS if column not in studies.columns]
    if missing:
        raise ValueError(
            f"missing column(s) {', '.join(repr(c) for c in missing)}; "
            f"required: {', '.join(REQUIRED_COLUMNS)}"
        )
    clean = studies.reset_index(drop=True).copy()
    counts: dict[str, list[int]] = {column: [] for column in COUNT_COLUMNS}
    for position in range(len(clean)):
        where = _row_label(clean, position)
        if not _study_name(clean["study"].iloc[position]):
            raise ValueError(f"{where}, column 'study': is blank; every study needs a name")
        for column in COUNT_COLUMNS:
            counts[column].append(
                _whole_number(clean[column].iloc[position], where=where, column=column)
            )
        for arm in ("treated", "control"):
            events = counts[f"events_{arm}"][-1]
            total = counts[f"total_{arm}"][-1]
            if total == 0:
                raise ValueError(
                    f"{where}, column 'total_{arm}': must be at least 1; an arm without "
                    "patients cannot be compared"
                )
            if events > total:
                raise ValueError(
                    f"{where}, column 'events_{arm}': {events} events is more than "
                    f"total_{arm} ({total})"
                )
    clean["study"] = [_study_name(value) for value in clean["study"]]
    for column in COUNT_COLUMNS:
        clean[column] = pd.Series(counts[column], dtype="int64")
    return clean


def study_effects(studies: pd.DataFrame, *, measure: Measure) -> tuple[pd.DataFrame, list[str]]:
    """Each estimable study's log effect, variance and 95% CI, and notes on those left out.

    A study with no events in either arm, or with every patient an event in both, says nothing
    about a ratio of risks or odds; it is left out, not patched with 0.5.
    """
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {', '.join(MEASURES)}, not {measure!r}")
    clean = validate_two_arm_counts(studies)
    notes: list[str] = []
    no_events = (clean["events_treated"] == 0) & (clean["events_control"] == 0)
    all_events = (clean["events_treated"] == clean["total_treated"]) & (
        clean["events_control"] == clean["total_control"]
    )
    for study in clean.loc[no_events, "study"]:
        notes.append(f"{study}: no events in either arm; left out of pooling")
    for study in clean.loc[all_events & ~no_events, "study"]:
        notes.append(f"{study}: every patient had the event in both arms; left out of pooling")
    effects = clean.loc[~(no_events | all_events)].reset_index(drop=True)

    events_treated = effects["events_treated"].to_numpy(dtype=float)
    total_treated = effects["total_treated"].to_numpy(dtype=float)
    events_control = effects["events_control"].to_numpy(dtype=float)
    total_control = effects["total_control"].to_numpy(dtype=float)
    zero_cell = (
        (events_treated == 0)
        | (events_treated == total_treated)
        | (events_control == 0)
        | (events_control == total_control)
    )
    # statsmodels 0.14-0.15 adds its zero_correction to the event counts of every study but to
    # the totals of zero-cell studies only, which shifts studies without zeros (Ahmadi 1.93
    # becomes 1.91). So the correction is made here, on the cells, and statsmodels gets
    # counts that need none.
    correction = ZERO_CELL_CORRECTION * zero_cell
    log_effect, variance = effectsize_2proportions(
        events_treated + correction,
        total_treated + 2 * correction,
        events_control + correction,
        total_control + 2 * correction,
        statistic=STATSMODELS_STATISTIC[measure],
        zero_correction=None,
    )
    for study in effects.loc[zero_cell, "study"]:
        notes.append(f"{study}: a zero cell; {ZERO_CELL_CORRECTION} added to all four cells")

    se_log = np.sqrt(variance)
    effects["log_effect"] = log_effect
    effects["variance"] = variance
    effects["se_log"] = se_log
    effects["estimate"] = np.exp(log_effect)
    effects["ci_low"] = np.exp(log_effect - Z_CRITICAL * se_log)
    effects["ci_high"] = np.exp(log_effect + Z_CRITICAL * se_log)
    effects["zero_cell_corrected"] = zero_cell
    return effects, notes


def _pool_effects(effects: pd.DataFrame, *, measure: Measure, notes: list[str]) -> MetaAnalysis:
    """Pool already computed study effects; a single study comes back as itself."""
    k = len(effects)
    effects = effects.copy()
    if k == 1:
        only = Pooled.from_log(effects["log_effect"].iloc[0], effects["se_log"].iloc[0])
        effects["weight_fixed_percent"] = 100.0
        effects["weight_random_percent"] = 100.0
        return MetaAnalysis(
            measure=measure,
            k=1,
            fixed=only,
            random=only,
            heterogeneity=None,
            studies=effects,
            notes=[*notes, "a single study: nothing pooled, no heterogeneity to measure"],
        )

    log_effect = effects["log_effect"].to_numpy(dtype=float)
    variance = effects["variance"].to_numpy(dtype=float)
    # statsmodels computes I2 as 1 - df/Q, which divides by zero when the studies agree
    # exactly; I2 is computed below from Q instead, so that warning means nothing here.
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        combined = combine_effects(log_effect, variance, method_re="dl")
    q = max(float(combined.q), 0.0)
    df = k - 1
    fixed = Pooled.from_log(combined.mean_effect_fe, combined.sd_eff_w_fe)
    weights_fixed = np.asarray(combined.weights_rel_fe, dtype=float)
    # DerSimonian-Laird truncates tau2 at zero; statsmodels returns (Q - df) / C unclipped,
    # and a negative tau2 would give weights larger than the fixed-effect ones.
    tau2 = float(combined.tau2)
    if tau2 > 0:
        random = Pooled.from_log(combined.mean_effect_re, combined.sd_eff_w_re)
        weights_random = np.asarray(combined.weights_rel_re, dtype=float)
    else:
        tau2 = 0.0
        random = fixed
        weights_random = weights_fixed
    heterogeneity = Heterogeneity(
        q=q,
        df=df,
        p_value=float(stats.chi2.sf(q, df)),
        i2_percent=100.0 * max(0.0, (q - df) / q) if q > 0 else 0.0,
        tau2=tau2,
    )
    effects["weight_fixed_percent"] = 100.0 * weights_fixed
    effects["weight_random_percent"] = 100.0 * weights_random
    return MetaAnalysis(
        measure=measure,
        k=k,
        fixed=fixed,
        random=random,
        heterogeneity=heterogeneity,
        studies=effects,
        notes=list(notes),
    )


def pool_studies(studies: pd.DataFrame, *, measure: Measure = "RR") -> MetaAnalysis:
    """Fixed-effect and DerSimonian-Laird pooling of two or more two-arm studies."""
    effects, notes = study_effects(studies, measure=measure)
    if len(effects) < 2:
        raise ValueError(
            f"pooling needs at least two studies with estimable effects; got {len(effects)}"
            + (f" ({'; '.join(notes)})" if notes else "")
        )
    return _pool_effects(effects, measure=measure, notes=notes)


def leave_one_out(
    studies: pd.DataFrame, *, measure: Measure = "RR", model: Model = "random"
) -> pd.DataFrame:
    """The pooled estimate with each study left out in turn (the paper's sensitivity analysis).

    Columns: omitted, k, estimate, ci_low, ci_high, p_value, i2_percent (None when one study
    remains), tau2.
    """
    effects, _ = study_effects(studies, measure=measure)
    if len(effects) < 2:
        raise ValueError(
            f"leave-one-out needs at least two studies with estimable effects; got {len(effects)}"
        )
    rows = []
    for position, omitted in enumerate(effects["study"]):
        rest = effects.drop(index=position).reset_index(drop=True)
        analysis = _pool_effects(rest, measure=measure, notes=[])
        pooled = analysis.pooled(model)
        heterogeneity = analysis.heterogeneity
        rows.append(
            {
                "omitted": omitted,
                "k": analysis.k,
                "estimate": pooled.estimate,
                "ci_low": pooled.ci_low,
                "ci_high": pooled.ci_high,
                "p_value": pooled.p_value,
                "i2_percent": heterogeneity.i2_percent if heterogeneity else None,
                "tau2": heterogeneity.tau2 if heterogeneity else None,
            }
        )
    return pd.DataFrame(rows)


def subgroup_label(value: object) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "(blank)"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    text = str(value).strip()
    return text or "(blank)"


def pool_subgroups(
    studies: pd.DataFrame, *, column: str, measure: Measure = "RR", model: Model = "random"
) -> SubgroupAnalysis:
    """Pool each value of `column` separately (its own tau2), in order of first appearance."""
    studies = standardise_columns(studies)
    if column not in studies.columns:
        raise ValueError(
            f"subgroup column {column!r} is not in the table; columns: "
            f"{', '.join(map(str, studies.columns))}"
        )
    effects, notes = study_effects(studies, measure=measure)
    labels = effects[column].map(subgroup_label)
    groups = []
    for value in dict.fromkeys(labels):
        members = effects.loc[labels == value].reset_index(drop=True)
        groups.append(
            Subgroup(value=value, analysis=_pool_effects(members, measure=measure, notes=[]))
        )
    difference = None
    if len(groups) >= 2:
        estimates = [group.analysis.pooled(model) for group in groups]
        between = _pool_effects(
            pd.DataFrame(
                {
                    "study": [group.value for group in groups],
                    "log_effect": [pooled.log_estimate for pooled in estimates],
                    "variance": [pooled.se_log**2 for pooled in estimates],
                    "se_log": [pooled.se_log for pooled in estimates],
                }
            ),
            measure=measure,
            notes=[],
        )
        difference = between.heterogeneity
    else:
        notes.append(f"{column}: a single subgroup; no test for subgroup differences")
    return SubgroupAnalysis(
        column=column, model=model, groups=groups, difference=difference, notes=notes
    )


def egger_test(studies: pd.DataFrame, *, measure: Measure = "RR") -> EggerTest:
    """Egger's regression: standardised effect on precision; the intercept measures asymmetry."""
    effects, _ = study_effects(studies, measure=measure)
    k = len(effects)
    if k < EGGER_MIN_STUDIES:
        raise ValueError(
            f"Egger's regression test needs at least {EGGER_MIN_STUDIES} studies with "
            f"estimable effects; got {k}"
        )
    precision = 1 / effects["se_log"].to_numpy(dtype=float)
    if np.ptp(precision) <= 1e-12 * precision.max():
        raise ValueError(
            "Egger's regression test is undefined when every study has the same standard "
            "error: precision does not vary, so there is no slope to fit"
        )
    standardised = effects["log_effect"].to_numpy(dtype=float) * precision
    fit = sm.OLS(standardised, sm.add_constant(precision)).fit()
    p_value = float(fit.pvalues[0])
    if not math.isfinite(p_value):
        raise ValueError(
            "Egger's regression test is undefined here: the studies lie exactly on a line, "
            "leaving no residual variance"
        )
    return EggerTest(
        k=k,
        intercept=float(fit.params[0]),
        intercept_se=float(fit.bse[0]),
        slope=float(fit.params[1]),
        p_value=p_value,
    )
