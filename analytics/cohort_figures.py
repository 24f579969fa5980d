"""Figures of a cohort snapshot for the dashboard: black, grey and hatching, never colour alone.

Built like analytics.forest (matplotlib's `Figure` on the Agg canvas, never pyplot, so a request
can draw one without global state) from the snapshot's JSON, so a stored snapshot can be drawn
again exactly as it was.
"""

from __future__ import annotations

from collections.abc import Callable

from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from analytics.forest import BLACK, FONT_SIZE_PT, GREY
from analytics.formatting import ROUTE_LABELS
from analytics.options import SUBGROUPS

# Solid black against white with hatching: the two routes differ in fill and pattern.
ROUTE_STYLE = {
    "ivig": {"color": BLACK, "edgecolor": BLACK, "hatch": None},
    "scig": {"color": "white", "edgecolor": BLACK, "hatch": "///"},
}


def _error(metric: dict, scale: float = 100.0) -> tuple[float, float, float]:
    rate = metric["rate"] * scale
    return rate, rate - metric["ci_low"] * scale, metric["ci_high"] * scale - rate


def _axes(figure: Figure):
    """Axes whose default colour is black, so no part of a plot falls back to matplotlib's blue."""
    ax = figure.add_subplot()
    ax.set_prop_cycle(color=[BLACK])
    return ax


def _empty(figure: Figure, text: str) -> Figure:
    ax = figure.add_subplot()
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=FONT_SIZE_PT + 1)
    return figure


def cumulative_live_birth_figure(snapshot: dict) -> Figure:
    """Cumulative live birth after up to k transfers, % with exact 95% CIs, n/N on each point."""
    figure = Figure(figsize=(5.6, 3.2), layout="constrained")
    points = [
        (int(k), metric)
        for k, metric in snapshot["cumulative_live_birth"].items()
        if metric["rate"] is not None
    ]
    if not points:
        return _empty(figure, "No transfers with a known outcome yet")
    ax = _axes(figure)
    ks = [k for k, _ in points]
    rates, below, above = zip(*(_error(metric) for _, metric in points), strict=True)
    ax.errorbar(
        ks,
        rates,
        yerr=[below, above],
        color=BLACK,
        marker="o",
        markersize=6,
        capsize=4,
        linewidth=1.5,
        elinewidth=1,
    )
    for k, metric in points:
        ax.annotate(
            f"{metric['events']}/{metric['total']}",
            (k, metric["rate"] * 100),
            xytext=(8, -3),
            textcoords="offset points",
            fontsize=FONT_SIZE_PT - 1,
            color=GREY,
        )
    ax.set_xticks(ks)
    ax.set_xlim(min(ks) - 0.4, max(ks) + 0.8)
    ax.set_ylim(0, 100)
    ax.yaxis.set_major_formatter(PercentFormatter())
    ax.set_xlabel("Transfers (up to k)", fontsize=FONT_SIZE_PT)
    ax.set_ylabel("Patients with a live birth", fontsize=FONT_SIZE_PT)
    ax.set_title(
        "Cumulative live birth after up to k transfers (exact 95% CI)", fontsize=FONT_SIZE_PT + 1
    )
    ax.tick_params(labelsize=FONT_SIZE_PT)
    ax.grid(axis="y", color="0.9", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return figure


def adverse_events_figure(snapshot: dict) -> Figure:
    """Infusion-linked events per 100 infusions by term, IVIg solid beside SCIg hatched."""
    by_term = snapshot["adverse_events"]["by_term_and_route"]
    figure = Figure(figsize=(6.4, 0.6 + 0.45 * max(len(by_term), 1) + 0.6), layout="constrained")
    if not by_term:
        return _empty(figure, "No adverse events linked to an infusion")
    ax = _axes(figure)
    terms = list(by_term)[::-1]  # most frequent on top
    height = 0.38
    for offset, route in ((height / 2, "ivig"), (-height / 2, "scig")):
        values, errors_low, errors_high = [], [], []
        for term in terms:
            rate = by_term[term][route]
            if rate["rate"] is None:
                values.append(0.0)
                errors_low.append(0.0)
                errors_high.append(0.0)
            else:
                values.append(rate["rate"])
                errors_low.append(rate["rate"] - rate["ci_low"])
                errors_high.append(rate["ci_high"] - rate["rate"])
        ax.barh(
            [index + offset for index in range(len(terms))],
            values,
            height=height,
            xerr=[errors_low, errors_high],
            error_kw={"ecolor": GREY, "color": GREY, "capsize": 2, "elinewidth": 0.8},
            label=ROUTE_LABELS[route],
            linewidth=0.8,
            **ROUTE_STYLE[route],
        )
    ax.set_yticks(range(len(terms)))
    ax.set_yticklabels([term.replace("_", " ") for term in terms], fontsize=FONT_SIZE_PT)
    ax.set_xlabel("Events per 100 infusions of that route (exact 95% CI)", fontsize=FONT_SIZE_PT)
    ax.set_title(
        "Adverse events linked to an infusion, by term and route", fontsize=FONT_SIZE_PT + 1
    )
    ax.tick_params(axis="x", labelsize=FONT_SIZE_PT)
    ax.legend(fontsize=FONT_SIZE_PT, frameon=False, loc="lower right")
    ax.set_xlim(left=0)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return figure


def subgroup_figure(snapshot: dict, *, subgroups: dict[str, str]) -> Figure:
    """Live birth per treated patient in each subgroup: a dot and its exact 95% CI per row."""
    rows: list[tuple[str, dict | None]] = []
    for column, heading in subgroups.items():
        groups = snapshot["subgroups"].get(column, {})
        if not groups:
            continue
        rows.append((heading, None))
        rows.extend((f"   {value.replace('_', ' ')}", metric) for value, metric in groups.items())
    figure = Figure(figsize=(6.4, 0.8 + 0.22 * max(len(rows), 1)), layout="constrained")
    if not rows:
        return _empty(figure, "No treated patients")
    ax = _axes(figure)
    positions = list(range(len(rows)))[::-1]
    for position, (_, metric) in zip(positions, rows, strict=True):
        if metric is None or metric["rate"] is None:
            continue
        rate, below, above = _error(metric)
        ax.errorbar(
            [rate],
            [position],
            xerr=[[below], [above]],
            fmt="s",
            color=BLACK,
            markersize=4,
            capsize=2,
            elinewidth=1,
        )
    overall = snapshot["live_birth_per_treated_patient"]
    if overall["rate"] is not None:
        ax.axvline(overall["rate"] * 100, color=GREY, linestyle=":", linewidth=1)
    ax.set_yticks(positions)
    ax.set_yticklabels(
        [label for label, _ in rows],
        fontsize=FONT_SIZE_PT - 1,
    )
    for tick, (_, metric) in zip(ax.get_yticklabels(), rows, strict=True):
        if metric is None:
            tick.set_fontweight("bold")
    ax.set_xlim(0, 100)
    ax.xaxis.set_major_formatter(PercentFormatter())
    ax.set_xlabel(
        "Live birth per treated patient (exact 95% CI); dotted: whole cohort",
        fontsize=FONT_SIZE_PT,
    )
    ax.tick_params(axis="x", labelsize=FONT_SIZE_PT)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return figure


# What the monthly report draws of a snapshot: (name, title, draw).
SNAPSHOT_FIGURES: tuple[tuple[str, str, Callable[[dict], Figure]], ...] = (
    (
        "cumulative_live_birth",
        "Cumulative live birth after up to k transfers",
        cumulative_live_birth_figure,
    ),
    (
        "adverse_events",
        "Adverse events per 100 infusions, by term and route",
        adverse_events_figure,
    ),
    (
        "subgroups",
        "Live birth per treated patient, by subgroup",
        lambda snapshot: subgroup_figure(snapshot, subgroups=SUBGROUPS),
    ),
)
