"""How a snapshot's numbers are written for people: the dashboard page and the monthly report.

Plain strings from the snapshot's JSON (analytics.cohort), so both say the same thing the same
way: "13/15", "86.7%", "59.5% to 98.3%", "P < 0.001"; "-" where a value does not exist.
"""

from analytics.options import SUBGROUPS

ROUTE_LABELS = {"ivig": "IVIg", "scig": "SCIg"}

HEADLINES = (
    ("live_birth_per_treated_patient", "Live birth per treated patient (at least one infusion)"),
    ("live_birth_per_enrolled_patient", "Live birth per enrolled patient (intention to treat)"),
    ("live_birth_after_first_transfer", "Live birth after the first transfer"),
    ("live_birth_per_transfer", "Live birth per transfer"),
    ("clinical_pregnancy_per_transfer", "Clinical pregnancy per transfer"),
    ("failed_transfer_per_ivf_patient", "IVF patients whose transfers all failed"),
    ("miscarriage_per_clinical_pregnancy", "Miscarriage (before 20+0) per clinical pregnancy"),
    ("stillbirth_per_clinical_pregnancy", "Stillbirth per clinical pregnancy"),
    (
        "preterm_birth_per_live_birth_delivery",
        "Preterm birth (before 37+0) per live-birth delivery",
    ),
    ("multiple_birth_per_live_birth_delivery", "Multiple birth per live-birth delivery"),
)


# Shown where a value does not exist (a rate without a denominator), never a misleading zero.
NONE = "-"


def percent(value: float | None) -> str:
    return NONE if value is None else f"{value * 100:.1f}%"


def rate_row(label: str, metric: dict) -> dict:
    """A table row: label, n/N, rate, exact CI, pending; "no data" spelled out."""
    has_rate = metric.get("rate") is not None
    return {
        "label": label,
        "fraction": f"{metric['events']}/{metric['total']}",
        "rate": percent(metric.get("rate")) if has_rate else metric.get("note", "no data"),
        "ci": f"{percent(metric['ci_low'])} to {percent(metric['ci_high'])}" if has_rate else "",
        "pending": metric.get("pending", ""),
    }


def p_value(value: float | None) -> str:
    if value is None:
        return NONE
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def p_text(value: float | None) -> str:
    """As a sentence writes it: "P < 0.001", "P = 0.042"."""
    text = p_value(value)
    return f"P {text}" if text.startswith("<") else f"P = {text}"


def number(value: float | None, digits: int = 2) -> str:
    return NONE if value is None else f"{value:.{digits}f}"


def comparison_row(column: str, comparison: dict) -> dict:
    a, b = comparison["a"], comparison["b"]
    nnt = comparison["nnt"]
    nnt_text = NONE
    if nnt is not None:
        nnt_text = f"{nnt:.1f} favouring {comparison['nnt_favours']}"
        if comparison["nnt_ci_low"] is not None:
            nnt_text += f" ({comparison['nnt_ci_low']:.1f} to {comparison['nnt_ci_high']:.1f})"
    return {
        "subgroup": SUBGROUPS.get(column, column),
        "a": f"{a['label']} {a['events']}/{a['total']}",
        "b": f"{b['label']} {b['events']}/{b['total']}",
        "rr": (
            f"{number(comparison['risk_ratio'])} ({number(comparison['rr_ci_low'])} to "
            f"{number(comparison['rr_ci_high'])})"
        ),
        "rd": (
            f"{percent(comparison['risk_difference'])} ({percent(comparison['rd_ci_low'])} to "
            f"{percent(comparison['rd_ci_high'])})"
        ),
        "nnt": nnt_text,
        "fisher_p": p_value(comparison["fisher_p"]),
        "notes": "; ".join(comparison["notes"]),
    }
