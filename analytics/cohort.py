"""The cohort's outcome metrics (DESIGN.md section 6), as pure functions of DataFrames.

`analytics.queries.cohort_frames` reads the registry into the five frames of `CohortFrames`
(patients, transfers, pregnancies, infants, adverse events: one row per thing, counted and
joined by the database); everything here is pandas on those frames and `analytics.stats` on the
counts, so it is tested on small hand-written frames without a database.

Definitions, and why:

- Live birth: a delivery with at least one live-born infant, once per delivery (twins count
  once). A pregnancy counts when its outcome says live birth or an infant is recorded live born.
- Pending: an outcome not known yet, counted apart and left out of the denominator. A pregnancy
  without an outcome; a transfer whose result is pending, or a clinical pregnancy from it that
  has not ended (or was not recorded); a patient without a live birth who has such a pregnancy or
  transfer, or is still enrolled (in treatment or follow-up: her outcome is not final).
- Per patient: treated means at least one infusion; intention to treat means enrolled.
- After the first transfer, and cumulative after up to k transfers: among patients with at
  least one transfer, a live birth from one of their first k transfers (ordered by date). A
  patient who stopped before her k-th transfer counts as no live birth, as in seed 002.
- Clinical pregnancy (ICMART): a transfer resulting in a clinical or an ectopic pregnancy; a
  failed transfer is a negative or biochemical one. Failed transfer per IVF patient (seed 000's
  "2/13 failed their ET"): a patient with transfers none of which gave a clinical pregnancy.
- Miscarriage: a loss (miscarriage or stillbirth recorded, no live-born infant) before
  `Definitions.miscarriage_before_ga_days` (20+0); a stillbirth is such a loss at or after it.
  Both per clinical pregnancy (pregnancy row) with a known outcome.
- Preterm: a live-birth delivery before 37+0; multiple: two or more infants.
- Adverse events: per treated patient (patients with at least one); events linked to an
  infusion per 100 infusions, overall and by the infusion's route.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal

import numpy as np
import pandas as pd

from analytics import stats
from analytics.options import SUBGROUPS, CohortFilters
from outcomes import gestation
from registry import dosing

# Bump when a definition changes, so stored snapshots say which definitions they used.
METRICS_VERSION = 1

# Stored values of the models' choices (outcomes.models, registry.models), repeated so this
# module reads frames without Django; tests check they match the models.
RESULT_PENDING = "pending"
RESULT_CLINICAL = "clinical"
RESULT_ECTOPIC = "ectopic"
PREGNANCY_RESULTS = (RESULT_CLINICAL, RESULT_ECTOPIC)
OUTCOME_LIVE_BIRTH = "live_birth"
LOSS_OUTCOMES = ("miscarriage", "stillbirth")
STATUS_ENROLLED = "enrolled"
ROUTE_IVIG = "ivig"
ROUTE_SCIG = "scig"
UNTREATED = "untreated"
UNKNOWN = "unknown"

PATIENT_COLUMNS = {
    "patient_id": "int64",
    "site_code": "object",
    "indication": "object",
    "status": "object",
    "enrolled_on": "datetime64[us]",
    "protocol_code": "object",
    "infusions": "int64",
    "infusions_ivig": "int64",
    "infusions_scig": "int64",
    "first_infusion_on": "datetime64[us]",
    "first_ivig_dose_g": "object",
    "first_ivig_weight_kg": "object",
    "nk_percent": "float64",
}
TRANSFER_COLUMNS = {
    "transfer_id": "int64",
    "patient_id": "int64",
    "transferred_on": "datetime64[us]",
    "result": "object",
}
PREGNANCY_COLUMNS = {
    "pregnancy_id": "int64",
    "patient_id": "int64",
    "transfer_id": "Int64",
    "lmp_on": "datetime64[us]",
    "fetuses": "int64",
    "outcome_kind": "object",
    "ended_on": "datetime64[us]",
}
INFANT_COLUMNS = {"pregnancy_id": "int64", "birth_weight_g": "int64", "live_born": "bool"}
ADVERSE_EVENT_COLUMNS = {
    "patient_id": "int64",
    "term": "object",
    "grade": "int64",
    "serious": "bool",
    "infusion_route": "object",
}
FRAME_COLUMNS = {
    "patients": PATIENT_COLUMNS,
    "transfers": TRANSFER_COLUMNS,
    "pregnancies": PREGNANCY_COLUMNS,
    "infants": INFANT_COLUMNS,
    "adverse_events": ADVERSE_EVENT_COLUMNS,
}

# Two-group comparisons of live birth per treated patient: (subgroup, group a, group b).
COMPARISONS = (
    ("route", ROUTE_SCIG, ROUTE_IVIG),
    ("nk", "high", "normal"),
    ("indication", "rpl", "rif"),
    ("start", "before_conception", "after_conception"),
    ("dose_band", "600-800", "below_600"),
)


@dataclass(frozen=True)
class Definitions:
    """The thresholds the metrics use; stored with each snapshot."""

    miscarriage_before_ga_days: int = gestation.ga_from_weeks(20)
    preterm_before_ga_days: int = gestation.ga_from_weeks(37)
    nk_high_from_percent: float = 12.0
    historical_live_birth_rate: float = stats.HISTORICAL_LIVE_BIRTH_RATE
    max_transfers: int = 5
    dose_band_low_mg_per_kg: int = 600
    dose_band_high_mg_per_kg: int = 800
    enrolment_period_years: int = 5

    def as_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class CohortFrames:
    patients: pd.DataFrame
    transfers: pd.DataFrame
    pregnancies: pd.DataFrame
    infants: pd.DataFrame
    adverse_events: pd.DataFrame

    @classmethod
    def from_records(cls, **records: list[dict] | pd.DataFrame) -> CohortFrames:
        """Frames with the expected columns and dtypes, from rows (tests) or frames (queries)."""
        frames = {}
        for name, columns in FRAME_COLUMNS.items():
            rows = records.get(name)
            frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows or [])
            frames[name] = typed_frame(frame, columns)
        return cls(**frames)


def typed_frame(frame: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """`frame` with exactly `columns`, in their dtypes (missing columns filled as empty)."""
    typed = {}
    for name, dtype in columns.items():
        values = frame[name] if name in frame.columns else pd.Series([None] * len(frame))
        values = values.reset_index(drop=True)
        if dtype.startswith("datetime64"):
            typed[name] = pd.to_datetime(values).astype(dtype)
        elif dtype == "object":
            typed[name] = values.astype(object).where(values.notna(), None)
        elif dtype == "float64":
            typed[name] = pd.to_numeric(values, errors="coerce").astype("float64")
        else:
            typed[name] = values.astype(dtype)
    return pd.DataFrame(typed, columns=list(columns))


# -- derived facts -------------------------------------------------------------------------


def pregnancy_outcomes(
    pregnancies: pd.DataFrame, infants: pd.DataFrame, definitions: Definitions
) -> pd.DataFrame:
    """Pregnancies with ga_days at the end, live_birth, resolved, miscarriage, stillbirth,
    births (infants recorded, else fetuses), preterm and multiple."""
    counts = infants.groupby("pregnancy_id").agg(
        infants=("live_born", "size"), live_born_infants=("live_born", "sum")
    )
    frame = pregnancies.join(counts, on="pregnancy_id")
    frame["infants"] = frame["infants"].fillna(0).astype("int64")
    frame["live_born_infants"] = frame["live_born_infants"].fillna(0).astype("int64")
    # gestation.ga_days is the one definition; on DatetimeIndexes it does the whole column.
    frame["ga_days"] = np.asarray(
        gestation.ga_days(pd.DatetimeIndex(frame["lmp_on"]), pd.DatetimeIndex(frame["ended_on"])),
        dtype="float64",
    )
    kind = frame["outcome_kind"]
    frame["live_birth"] = (kind == OUTCOME_LIVE_BIRTH) | (frame["live_born_infants"] > 0)
    frame["resolved"] = kind.notna() | frame["live_birth"]
    loss = frame["resolved"] & ~frame["live_birth"] & kind.isin(LOSS_OUTCOMES)
    frame["miscarriage"] = loss & (frame["ga_days"] < definitions.miscarriage_before_ga_days)
    frame["stillbirth"] = loss & (frame["ga_days"] >= definitions.miscarriage_before_ga_days)
    frame["births"] = frame["infants"].where(frame["infants"] > 0, frame["fetuses"])
    frame["preterm"] = frame["live_birth"] & (frame["ga_days"] < definitions.preterm_before_ga_days)
    frame["ga_known"] = frame["ga_days"].notna()
    frame["multiple"] = frame["live_birth"] & (frame["births"] >= 2)
    return frame


def transfer_outcomes(transfers: pd.DataFrame, pregnancies: pd.DataFrame) -> pd.DataFrame:
    """Transfers with et_number (1 = the patient's first, by date), pregnancy_reached,
    result_pending, live_birth and pending (outcome of the transfer not known yet)."""
    frame = transfers.sort_values(["patient_id", "transferred_on", "transfer_id"]).reset_index(
        drop=True
    )
    frame["et_number"] = frame.groupby("patient_id").cumcount() + 1
    linked = pregnancies.loc[
        pregnancies["transfer_id"].notna(), ["transfer_id", "live_birth", "resolved"]
    ].astype({"transfer_id": "int64"})
    linked = linked.rename(columns={"resolved": "pregnancy_resolved"})
    frame = frame.merge(linked, on="transfer_id", how="left")
    has_pregnancy = frame["pregnancy_resolved"].notna()
    frame["live_birth"] = frame["live_birth"].astype("boolean").fillna(False).astype(bool)
    frame["pregnancy_resolved"] = (
        frame["pregnancy_resolved"].astype("boolean").fillna(False).astype(bool)
    )
    frame["pregnancy_reached"] = frame["result"].isin(PREGNANCY_RESULTS) | has_pregnancy
    frame["result_pending"] = (frame["result"] == RESULT_PENDING) & ~has_pregnancy
    awaiting_birth = ((frame["result"] == RESULT_CLINICAL) | has_pregnancy) & ~frame[
        "pregnancy_resolved"
    ]
    frame["pending"] = ~frame["live_birth"] & (frame["result_pending"] | awaiting_birth)
    return frame


def dose_band(
    mg_per_kg: float | None, *, infusions_scig: int, treated: bool, definitions: Definitions
) -> str:
    if not treated:
        return UNTREATED
    if mg_per_kg is None or pd.isna(mg_per_kg):
        return "scig_only" if infusions_scig else UNKNOWN
    if mg_per_kg < definitions.dose_band_low_mg_per_kg:
        return f"below_{definitions.dose_band_low_mg_per_kg}"
    if mg_per_kg > definitions.dose_band_high_mg_per_kg:
        return f"above_{definitions.dose_band_high_mg_per_kg}"
    return f"{definitions.dose_band_low_mg_per_kg}-{definitions.dose_band_high_mg_per_kg}"


def _mg_per_kg(dose_g: object, weight_kg: object) -> float | None:
    if pd.isna(dose_g) or pd.isna(weight_kg):
        return None
    return float(dosing.dose_mg_per_kg(Decimal(dose_g), Decimal(weight_kg)))


def patient_attributes(
    patients: pd.DataFrame,
    pregnancies: pd.DataFrame,
    transfers: pd.DataFrame,
    definitions: Definitions,
) -> pd.DataFrame:
    """Patients with the columns filters and subgroups use: treated, enrolled, route, nk,
    start, dose_band, enrolment_period."""
    frame = patients.copy()
    frame["treated"] = frame["infusions"] > 0
    frame["enrolled"] = frame["enrolled_on"].notna()
    frame["route"] = np.select(
        [frame["infusions_scig"] > 0, frame["infusions_ivig"] > 0],
        [ROUTE_SCIG, ROUTE_IVIG],
        default=UNTREATED,
    )
    frame["nk"] = np.select(
        [
            frame["nk_percent"] >= definitions.nk_high_from_percent,
            frame["nk_percent"] < definitions.nk_high_from_percent,
        ],
        ["high", "normal"],
        default=UNKNOWN,
    )
    # Started after conception: the first dose came while she was carrying the pregnancy,
    # from conception (gestation.conception_from_lmp) or, after IVF, from the transfer, until
    # its end. A dose before the transfer of an embryo conceived in vitro is "in the conception
    # cycle", which the literature counts as before conception (analytics.models.IvigStart).
    started = frame.loc[frame["treated"], ["patient_id", "first_infusion_on"]]
    during = started.merge(
        pregnancies[["patient_id", "transfer_id", "lmp_on", "ended_on"]], on="patient_id"
    ).merge(
        transfers[["transfer_id", "transferred_on"]].astype({"transfer_id": "Int64"}),
        on="transfer_id",
        how="left",
    )
    conceived_on = pd.Series(
        gestation.conception_from_lmp(pd.DatetimeIndex(during["lmp_on"])), index=during.index
    )
    carried_from = conceived_on.where(
        during["transferred_on"].isna(),
        np.maximum(conceived_on, during["transferred_on"]),
    )
    first_dose = during["first_infusion_on"]
    inside = (carried_from <= first_dose) & (
        during["ended_on"].isna() | (first_dose <= during["ended_on"])
    )
    after_ids = set(during.loc[inside, "patient_id"])
    frame["start"] = np.select(
        [~frame["treated"], frame["patient_id"].isin(after_ids)],
        [UNTREATED, "after_conception"],
        default="before_conception",
    )
    # registry.dosing says what mg/kg is; doses come in vial steps, so it is asked once per
    # distinct (grams, kilograms, ...) combination rather than once per patient.
    inputs = pd.DataFrame(
        {
            "dose_g": frame["first_ivig_dose_g"].to_numpy(dtype=object),
            "weight_kg": frame["first_ivig_weight_kg"].to_numpy(dtype=object),
            "scig": (frame["infusions_scig"] > 0).to_numpy(),
            "treated": frame["treated"].to_numpy(),
        }
    )
    distinct = inputs.drop_duplicates().copy()
    distinct["dose_band"] = [
        dose_band(
            _mg_per_kg(dose_g, weight_kg),
            infusions_scig=scig,
            treated=treated,
            definitions=definitions,
        )
        for dose_g, weight_kg, scig, treated in distinct.itertuples(index=False)
    ]
    frame["dose_band"] = inputs.merge(distinct, how="left", on=list(inputs.columns))[
        "dose_band"
    ].to_numpy()
    years = definitions.enrolment_period_years
    first_year = (frame["enrolled_on"].dt.year // years) * years
    frame["enrolment_period"] = np.where(
        frame["enrolled"],
        first_year.astype("Int64").astype(str)
        + "-"
        + (first_year + years - 1).astype("Int64").astype(str),
        "not_enrolled",
    )
    return frame


def patient_outcomes(
    patients: pd.DataFrame, transfers: pd.DataFrame, pregnancies: pd.DataFrame
) -> pd.DataFrame:
    """Patients (with attributes) plus live_birth, pending, has_transfer, ivf_failed,
    ivf_pending, first_live_birth_et and first_pending_et."""
    frame = patients.set_index("patient_id")
    by_pregnancy = pregnancies.groupby("patient_id")
    live_birth = by_pregnancy["live_birth"].any()
    ongoing = (~pregnancies["resolved"]).groupby(pregnancies["patient_id"]).any()
    pending_transfer = transfers.groupby("patient_id")["pending"].any()
    frame["live_birth"] = live_birth.reindex(frame.index, fill_value=False).astype(bool)
    waiting = (
        ongoing.reindex(frame.index, fill_value=False).astype(bool)
        | pending_transfer.reindex(frame.index, fill_value=False).astype(bool)
        | (frame["status"] == STATUS_ENROLLED)
    )
    frame["pending"] = ~frame["live_birth"] & waiting

    by_transfer = transfers.groupby("patient_id")
    reached = by_transfer["pregnancy_reached"].any()
    result_pending = by_transfer["result_pending"].any()
    frame["has_transfer"] = frame.index.isin(reached.index)
    reached = reached.reindex(frame.index, fill_value=False).astype(bool)
    result_pending = result_pending.reindex(frame.index, fill_value=False).astype(bool)
    frame["ivf_pending"] = frame["has_transfer"] & ~reached & result_pending
    frame["ivf_failed"] = frame["has_transfer"] & ~reached & ~result_pending
    frame["first_live_birth_et"] = (
        transfers[transfers["live_birth"]].groupby("patient_id")["et_number"].min()
    ).reindex(frame.index)
    frame["first_pending_et"] = (
        transfers[transfers["pending"]].groupby("patient_id")["et_number"].min()
    ).reindex(frame.index)
    return frame.reset_index()


def filter_patients(patients: pd.DataFrame, filters: CohortFilters) -> pd.DataFrame:
    keep = pd.Series(True, index=patients.index)
    if filters.sites:
        keep &= patients["site_code"].isin(filters.sites)
    for column, value in (
        ("protocol_code", filters.protocol),
        ("route", filters.route),
        ("indication", filters.indication),
        ("nk", filters.nk),
        ("start", filters.start),
        ("dose_band", filters.dose_band),
    ):
        if value:
            keep &= patients[column] == value
    if filters.enrolled_from:
        keep &= patients["enrolled_on"] >= pd.Timestamp(filters.enrolled_from)
    if filters.enrolled_until:
        keep &= patients["enrolled_on"] <= pd.Timestamp(filters.enrolled_until)
    return patients[keep]


# -- the snapshot --------------------------------------------------------------------------


@dataclass
class CohortTables:
    """The frames of one cohort with every derived column, after filtering."""

    patients: pd.DataFrame
    transfers: pd.DataFrame
    pregnancies: pd.DataFrame
    infants: pd.DataFrame
    adverse_events: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def cohort_tables(
    frames: CohortFrames, *, filters: CohortFilters, definitions: Definitions
) -> CohortTables:
    pregnancies = pregnancy_outcomes(frames.pregnancies, frames.infants, definitions)
    patients = patient_attributes(frames.patients, pregnancies, frames.transfers, definitions)
    patients = filter_patients(patients, filters)
    ids = patients["patient_id"]
    pregnancies = pregnancies[pregnancies["patient_id"].isin(ids)]
    transfers = transfer_outcomes(
        frames.transfers[frames.transfers["patient_id"].isin(ids)], pregnancies
    )
    patients = patient_outcomes(patients, transfers, pregnancies)
    infants = frames.infants[frames.infants["pregnancy_id"].isin(pregnancies["pregnancy_id"])]
    adverse_events = frames.adverse_events[frames.adverse_events["patient_id"].isin(ids)]
    notes = [] if len(patients) else [f"{stats.NO_DATA}: no patient matches ({filters.describe()})"]
    return CohortTables(patients, transfers, pregnancies, infants, adverse_events, notes)


def _cumulative(patients: pd.DataFrame, k: int) -> stats.Proportion:
    with_transfer = patients[patients["has_transfer"]]
    event = with_transfer["first_live_birth_et"] <= k
    pending = ~event & (with_transfer["first_pending_et"] <= k)
    return stats.proportion(int(event.sum()), int((~pending).sum()), pending=int(pending.sum()))


def live_birth_metrics(tables: CohortTables, definitions: Definitions) -> dict:
    patients, transfers, pregnancies = tables.patients, tables.transfers, tables.pregnancies
    first = transfers[transfers["et_number"] == 1]
    live_births = pregnancies[pregnancies["live_birth"]]
    ga_days = stats.spread(live_births["ga_days"])
    live_born = tables.infants[
        tables.infants["live_born"]
        & tables.infants["pregnancy_id"].isin(live_births["pregnancy_id"])
    ]
    return {
        "live_birth_per_treated_patient": stats.proportion_of(
            patients, event="live_birth", pending="pending", where="treated"
        ),
        "live_birth_per_enrolled_patient": stats.proportion_of(
            patients, event="live_birth", pending="pending", where="enrolled"
        ),
        "live_birth_after_first_transfer": stats.proportion_of(
            first, event="live_birth", pending="pending"
        ),
        "live_birth_per_transfer": stats.proportion_of(
            transfers, event="live_birth", pending="pending"
        ),
        "cumulative_live_birth": {
            str(k): _cumulative(patients, k) for k in range(1, definitions.max_transfers + 1)
        },
        "failed_transfer_per_ivf_patient": stats.proportion_of(
            patients, event="ivf_failed", pending="ivf_pending", where="has_transfer"
        ),
        "clinical_pregnancy_per_transfer": stats.proportion_of(
            transfers, event="pregnancy_reached", pending="result_pending"
        ),
        "miscarriage_per_clinical_pregnancy": stats.proportion(
            int(pregnancies["miscarriage"].sum()),
            int(pregnancies["resolved"].sum()),
            pending=int((~pregnancies["resolved"]).sum()),
        ),
        "stillbirth_per_clinical_pregnancy": stats.proportion(
            int(pregnancies["stillbirth"].sum()),
            int(pregnancies["resolved"].sum()),
            pending=int((~pregnancies["resolved"]).sum()),
        ),
        "preterm_birth_per_live_birth_delivery": stats.proportion_of(
            live_births, event="preterm", where="ga_known"
        ),
        "multiple_birth_per_live_birth_delivery": stats.proportion_of(
            live_births, event="multiple"
        ),
        "gestational_age_at_live_birth_days": ga_days,
        "birth_weight_g": stats.spread(live_born["birth_weight_g"]),
    }


def adverse_event_metrics(tables: CohortTables) -> dict:
    patients = tables.patients
    treated = patients.loc[patients["treated"], ["patient_id", "infusions_ivig", "infusions_scig"]]
    events = tables.adverse_events[tables.adverse_events["patient_id"].isin(treated["patient_id"])]
    n_treated = len(treated)

    def patients_with(rows: pd.DataFrame, total: int = n_treated) -> stats.Proportion:
        return stats.proportion(int(rows["patient_id"].nunique()), total)

    infusions = {
        ROUTE_IVIG: int(treated["infusions_ivig"].sum()),
        ROUTE_SCIG: int(treated["infusions_scig"].sum()),
    }
    linked = events[events["infusion_route"].notna()]
    by_route = {}
    for route, total_infusions in infusions.items():
        rows = linked[linked["infusion_route"] == route]
        received = int((treated[f"infusions_{route}"] > 0).sum())
        by_route[route] = {
            "infusions": total_infusions,
            "per_100_infusions": stats.rate_per(len(rows), total_infusions).as_json(),
            "patients_with_any": patients_with(rows, received).as_json(),
        }
    by_term_and_route = {
        str(term): {
            route: stats.rate_per(
                int(((linked["term"] == term) & (linked["infusion_route"] == route)).sum()),
                total_infusions,
            ).as_json()
            for route, total_infusions in infusions.items()
        }
        for term in linked["term"].value_counts().index
    }
    seriousness = events["serious"].map({True: "serious", False: "not_serious"})
    return {
        "patients_with_any": patients_with(events).as_json(),
        "events": len(events),
        "infusions": sum(infusions.values()),
        "per_100_infusions": stats.rate_per(len(linked), sum(infusions.values())).as_json(),
        "by_term": _patients_by(events, events["term"], n_treated),
        "by_grade": _patients_by(events, events["grade"], n_treated),
        "by_seriousness": _patients_by(events, seriousness, n_treated),
        "by_route": by_route,
        "by_term_and_route": by_term_and_route,
    }


def _patients_by(events: pd.DataFrame, labels: pd.Series, total: int) -> dict:
    """For each label (most frequent first): patients with at least one such event of `total`,
    and the number of events."""
    report = {}
    for value, count in labels.value_counts().items():
        rows = events[labels == value]
        report[str(value)] = {
            **stats.proportion(int(rows["patient_id"].nunique()), total).as_json(),
            "event_count": int(count),
        }
    return report


def subgroup_tables(patients: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Live birth per treated patient in each subgroup: one table per subgrouping."""
    return {
        column: stats.proportions_by(
            patients, group=column, event="live_birth", pending="pending", where="treated"
        )
        for column in SUBGROUPS
    }


def subgroup_comparisons(tables: dict[str, pd.DataFrame]) -> dict[str, stats.Comparison]:
    report = {}
    for column, label_a, label_b in COMPARISONS:
        table = tables[column]

        def group(label: str, table=table) -> stats.Proportion:
            if label in table.index:
                return stats.proportion_from_row(table.loc[label])
            return stats.proportion(0, 0, pending=0)

        report[column] = stats.compare(
            group(label_a), group(label_b), label_a=label_a, label_b=label_b
        )
    return report


def cohort_snapshot(
    frames: CohortFrames,
    *,
    filters: CohortFilters | None = None,
    definitions: Definitions | None = None,
) -> dict:
    """Every metric of the cohort, as plain JSON values (no NaN: "no data" says so)."""
    filters = filters or CohortFilters()
    definitions = definitions or Definitions()
    tables = cohort_tables(frames, filters=filters, definitions=definitions)
    patients = tables.patients
    metrics = live_birth_metrics(tables, definitions)
    subgroups = subgroup_tables(patients)
    per_treated = metrics["live_birth_per_treated_patient"]
    report = {
        "cohort": {
            "patients": len(patients),
            "enrolled": int(patients["enrolled"].sum()),
            "treated": int(patients["treated"].sum()),
            "transfers": len(tables.transfers),
            "pregnancies": len(tables.pregnancies),
            "infusions": int(patients["infusions"].sum()),
            "sites": sorted(patients["site_code"].unique().tolist()),
        },
        **{name: _json(value) for name, value in metrics.items()},
        "adverse_events": adverse_event_metrics(tables),
        "subgroups": {
            column: {
                str(value): stats.proportion_from_row(row).as_json()
                for value, row in table.iterrows()
            }
            for column, table in subgroups.items()
        },
        "comparisons": {
            column: comparison.as_json()
            for column, comparison in subgroup_comparisons(subgroups).items()
        },
        "historical_comparison": stats.binomial_test_against(
            per_treated, reference_rate=definitions.historical_live_birth_rate
        ).as_json(),
        "filters": filters.as_json(),
        "definitions": definitions.as_json(),
    }
    ga = metrics["gestational_age_at_live_birth_days"]
    report["gestational_age_at_live_birth_days"]["weeks"] = {
        name: gestation.format_ga(round(value)) if value is not None else None
        for name, value in (("median", ga.median), ("q1", ga.q1), ("q3", ga.q3))
    }
    report["notes"] = tables.notes
    return report


def _json(value):
    if isinstance(value, dict):
        return {key: _json(item) for key, item in value.items()}
    return value.as_json()
