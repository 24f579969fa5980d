"""Proportions, rates, spreads and two-group comparisons: pure functions of counts and frames.

Every interval and test here is statsmodels' or scipy's: Clopper-Pearson and Wilson intervals
(`proportion_confint`), exact Poisson intervals (`confint_poisson`), the risk ratio and its
log-scale interval (`Table2x2`), Newcombe's interval for a risk difference
(`confint_proportions_2indep`), Fisher's exact test and the exact binomial test. What is left
here is bookkeeping: which rows count, what to say when there is nothing to count.

Nothing returns NaN. A rate with no denominator is "no data" (None, with a note), so a JSON
report of an empty or all-pending cohort reads as such instead of crashing or carrying NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats
from statsmodels.stats.contingency_tables import Table2x2
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint
from statsmodels.stats.rates import confint_poisson

from analytics.meta import CONFIDENCE_LEVEL, ZERO_CELL_CORRECTION

ALPHA = 1 - CONFIDENCE_LEVEL
NO_DATA = "no data"
# Seed 000: "an 86% live birth rate, which is higher than the estimated < 30% without treatment".
HISTORICAL_LIVE_BIRTH_RATE = 0.30


def _count(value: object, name: str) -> int:
    if isinstance(value, bool) or not float(value).is_integer() or value < 0:
        raise ValueError(f"{name} must be a whole number of 0 or more, got {value!r}")
    return int(value)


def _finite(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class Proportion:
    """events of total, with exact (Clopper-Pearson) and Wilson 95% intervals.

    `pending` counts cases left out of the denominator because their outcome is not known yet;
    None where pending does not apply (an adverse event is never pending).
    """

    events: int
    total: int
    rate: float | None
    ci_low: float | None
    ci_high: float | None
    wilson_low: float | None
    wilson_high: float | None
    pending: int | None = None
    note: str = ""

    def as_json(self) -> dict:
        report = {
            "events": self.events,
            "total": self.total,
            "rate": self.rate,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "wilson_low": self.wilson_low,
            "wilson_high": self.wilson_high,
        }
        if self.pending is not None:
            report["pending"] = self.pending
        if self.note:
            report["note"] = self.note
        return report


def proportion(events: int, total: int, *, pending: int | None = None) -> Proportion:
    events, total = _count(events, "events"), _count(total, "total")
    if pending is not None:
        pending = _count(pending, "pending")
    if events > total:
        raise ValueError(f"events ({events}) must not exceed total ({total})")
    if total == 0:
        note = NO_DATA if not pending else f"{NO_DATA}: all {pending} pending"
        return Proportion(events, 0, None, None, None, None, None, pending=pending, note=note)
    low, high = proportion_confint(events, total, alpha=ALPHA, method="beta")
    wilson_low, wilson_high = proportion_confint(events, total, alpha=ALPHA, method="wilson")
    return Proportion(
        events=events,
        total=total,
        rate=events / total,
        ci_low=float(low),
        ci_high=float(high),
        wilson_low=float(wilson_low),
        wilson_high=float(wilson_high),
        pending=pending,
    )


def proportion_of(
    frame: pd.DataFrame, *, event: str, pending: str | None = None, where: str | None = None
) -> Proportion:
    """The share of rows where `event` is true, leaving out (and counting) `pending` rows.

    `where` names a boolean column that picks the rows to count at all (the denominator's
    definition, e.g. treated patients); `pending` rows among them are counted apart.
    """
    chosen = np.ones(len(frame), dtype=bool) if where is None else _flags(frame, where)
    events = _flags(frame, event) & chosen
    if pending is None:
        return proportion(int(events.sum()), int(chosen.sum()))
    waiting = _flags(frame, pending) & chosen
    return proportion(
        int((events & ~waiting).sum()),
        int((chosen & ~waiting).sum()),
        pending=int(waiting.sum()),
    )


def _flags(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A column as booleans, missing as False (selecting by mask copies every column)."""
    return frame[column].to_numpy(dtype=bool, na_value=False)


PROPORTION_COLUMNS = [
    "events",
    "total",
    "pending",
    "rate",
    "ci_low",
    "ci_high",
    "wilson_low",
    "wilson_high",
    "note",
]


def proportions_by(
    frame: pd.DataFrame,
    *,
    group: str,
    event: str,
    pending: str | None = None,
    where: str | None = None,
) -> pd.DataFrame:
    """`proportion_of` for each value of `group`: one row per group, indexed by its value.

    Counting is one groupby; only the intervals are computed per group (a handful of rows).
    """
    chosen = np.ones(len(frame), dtype=bool) if where is None else _flags(frame, where)
    waiting = _flags(frame, pending) if pending else np.zeros(len(frame), dtype=bool)
    counts = pd.DataFrame(
        {
            "group": frame[group].to_numpy()[chosen],
            "event": (_flags(frame, event) & ~waiting)[chosen],
            "known": ~waiting[chosen],
            "pending": waiting[chosen],
        }
    )
    summed = counts.groupby("group", sort=True, dropna=False)[["event", "known", "pending"]].sum()
    records = []
    for value, row in summed.iterrows():
        result = proportion(
            int(row["event"]), int(row["known"]), pending=int(row["pending"]) if pending else None
        )
        records.append({"value": value, **_proportion_fields(result)})
    table = pd.DataFrame.from_records(records, columns=["value", *PROPORTION_COLUMNS])
    return table.set_index("value")


def _proportion_fields(result: Proportion) -> dict:
    return {column: getattr(result, column) for column in PROPORTION_COLUMNS}


def proportion_from_row(row: pd.Series | dict) -> Proportion:
    """A `proportions_by` row back as a Proportion."""
    pending = row["pending"]
    pending = None if pending is None or pd.isna(pending) else int(pending)
    return proportion(int(row["events"]), int(row["total"]), pending=pending)


@dataclass(frozen=True)
class Rate:
    """Events per `per` units of exposure (e.g. per 100 infusions), exact Poisson 95% CI."""

    events: int
    exposure: int
    per: int
    rate: float | None
    ci_low: float | None
    ci_high: float | None
    note: str = ""

    def as_json(self) -> dict:
        report = {
            "events": self.events,
            "exposure": self.exposure,
            "per": self.per,
            "rate": self.rate,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
        }
        if self.note:
            report["note"] = self.note
        return report


def rate_per(events: int, exposure: int, *, per: int = 100) -> Rate:
    events, exposure = _count(events, "events"), _count(exposure, "exposure")
    if exposure == 0:
        return Rate(events, 0, per, None, None, None, note=NO_DATA)
    low, high = confint_poisson(events, exposure, method="exact-c", alpha=ALPHA)
    return Rate(
        events=events,
        exposure=exposure,
        per=per,
        rate=events / exposure * per,
        ci_low=float(low) * per,
        ci_high=float(high) * per,
    )


@dataclass(frozen=True)
class Spread:
    """Median and interquartile range (pandas' linear quantiles) of n values."""

    n: int
    median: float | None
    q1: float | None
    q3: float | None
    minimum: float | None
    maximum: float | None
    note: str = ""

    def as_json(self) -> dict:
        report = {
            "n": self.n,
            "median": self.median,
            "q1": self.q1,
            "q3": self.q3,
            "min": self.minimum,
            "max": self.maximum,
        }
        if self.note:
            report["note"] = self.note
        return report


def spread(values: pd.Series) -> Spread:
    known = pd.to_numeric(values, errors="coerce").dropna()
    if known.empty:
        return Spread(0, None, None, None, None, None, note=NO_DATA)
    q1, median, q3 = known.quantile([0.25, 0.5, 0.75]).tolist()
    return Spread(
        n=len(known),
        median=float(median),
        q1=float(q1),
        q3=float(q3),
        minimum=float(known.min()),
        maximum=float(known.max()),
    )


@dataclass(frozen=True)
class Comparison:
    """Group a against group b: risk ratio (a/b), risk difference (a-b), NNT, Fisher's P.

    The risk ratio's interval is on the log scale (Katz), with 0.5 added to every cell when one
    is zero, as the meta-analysis does (Cochrane Handbook 10.4.4.2); the risk difference's is
    Newcombe's hybrid score interval, which behaves at 0 and 100%. The NNT is 1/|RD| and
    favours the group with the higher event rate; its interval is given only when the RD's
    excludes 0 (otherwise it runs through infinity, Altman 1998).
    """

    label_a: str
    label_b: str
    a: Proportion
    b: Proportion
    risk_ratio: float | None
    rr_ci_low: float | None
    rr_ci_high: float | None
    risk_difference: float | None
    rd_ci_low: float | None
    rd_ci_high: float | None
    nnt: float | None
    nnt_ci_low: float | None
    nnt_ci_high: float | None
    nnt_favours: str | None
    fisher_p: float | None
    notes: tuple[str, ...] = ()

    def as_json(self) -> dict:
        return {
            "a": {"label": self.label_a, **self.a.as_json()},
            "b": {"label": self.label_b, **self.b.as_json()},
            "risk_ratio": self.risk_ratio,
            "rr_ci_low": self.rr_ci_low,
            "rr_ci_high": self.rr_ci_high,
            "risk_difference": self.risk_difference,
            "rd_ci_low": self.rd_ci_low,
            "rd_ci_high": self.rd_ci_high,
            "nnt": self.nnt,
            "nnt_ci_low": self.nnt_ci_low,
            "nnt_ci_high": self.nnt_ci_high,
            "nnt_favours": self.nnt_favours,
            "fisher_p": self.fisher_p,
            "notes": list(self.notes),
        }


def compare(a: Proportion, b: Proportion, *, label_a: str = "a", label_b: str = "b") -> Comparison:
    empty = {
        "risk_ratio": None,
        "rr_ci_low": None,
        "rr_ci_high": None,
        "risk_difference": None,
        "rd_ci_low": None,
        "rd_ci_high": None,
        "nnt": None,
        "nnt_ci_low": None,
        "nnt_ci_high": None,
        "nnt_favours": None,
        "fisher_p": None,
    }
    missing = [label for label, group in ((label_a, a), (label_b, b)) if group.total == 0]
    if missing:
        notes = (f"{NO_DATA} in {' and '.join(missing)}: nothing to compare",)
        return Comparison(label_a, label_b, a, b, **empty, notes=notes)

    notes = []
    cells = np.array([[a.events, a.total - a.events], [b.events, b.total - b.events]])
    fisher_p = float(scipy_stats.fisher_exact(cells).pvalue)

    if a.events == 0 and b.events == 0:
        rr = rr_low = rr_high = None
        notes.append("no events in either group: the risk ratio is not estimable")
    else:
        # Table2x2(shift_zeros=True) replaces only the zero cells by 0.5; the Cochrane rule the
        # meta-analysis follows adds 0.5 to all four, so the correction is made here.
        corrected = cells.astype(float)
        if (cells == 0).any():
            corrected += ZERO_CELL_CORRECTION
            notes.append(
                f"a zero cell: {ZERO_CELL_CORRECTION} added to every cell for the risk ratio"
            )
        table = Table2x2(corrected)
        rr = float(table.riskratio)
        rr_low, rr_high = (float(x) for x in table.riskratio_confint(alpha=ALPHA))

    rd = a.rate - b.rate
    rd_low, rd_high = (
        float(x)
        for x in confint_proportions_2indep(
            a.events, a.total, b.events, b.total, method="newcomb", compare="diff", alpha=ALPHA
        )
    )
    nnt = nnt_low = nnt_high = favours = None
    if rd == 0:
        notes.append("equal rates: no number needed to treat")
    else:
        nnt = 1 / abs(rd)
        favours = label_a if rd > 0 else label_b
        if rd_low > 0 or rd_high < 0:
            near, far = sorted((abs(rd_low), abs(rd_high)))
            nnt_low, nnt_high = 1 / far, 1 / near
        else:
            notes.append("the risk difference's interval includes 0: the NNT's runs to infinity")
    return Comparison(
        label_a=label_a,
        label_b=label_b,
        a=a,
        b=b,
        risk_ratio=_finite(rr),
        rr_ci_low=_finite(rr_low),
        rr_ci_high=_finite(rr_high),
        risk_difference=rd,
        rd_ci_low=rd_low,
        rd_ci_high=rd_high,
        nnt=_finite(nnt),
        nnt_ci_low=_finite(nnt_low),
        nnt_ci_high=_finite(nnt_high),
        nnt_favours=favours,
        fisher_p=fisher_p,
        notes=tuple(notes),
    )


@dataclass(frozen=True)
class BinomialTest:
    """An exact binomial test of events/total against a fixed (historical) rate."""

    events: int
    total: int
    reference_rate: float
    alternative: str
    p_value: float | None
    note: str = ""

    def as_json(self) -> dict:
        report = {
            "events": self.events,
            "total": self.total,
            "reference_rate": self.reference_rate,
            "alternative": self.alternative,
            "p_value": self.p_value,
        }
        if self.note:
            report["note"] = self.note
        return report


def binomial_test_against(
    observed: Proportion,
    *,
    reference_rate: float = HISTORICAL_LIVE_BIRTH_RATE,
    alternative: str = "greater",
) -> BinomialTest:
    """One-sided by default: is the cohort's rate above the rate seen without treatment?"""
    if not 0 < reference_rate < 1:
        raise ValueError(f"reference_rate must be between 0 and 1, got {reference_rate}")
    if observed.total == 0:
        return BinomialTest(0, 0, reference_rate, alternative, None, note=NO_DATA)
    result = scipy_stats.binomtest(
        observed.events, observed.total, p=reference_rate, alternative=alternative
    )
    return BinomialTest(
        observed.events, observed.total, reference_rate, alternative, float(result.pvalue)
    )
