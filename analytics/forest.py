"""Forest, leave-one-out, funnel and registry-beside-the-arms plots, in black and grey.

Figures are built on matplotlib's object API (`Figure` on the Agg canvas), never pyplot, so the
admin can draw them inside a request without pyplot's global figure state. Everything readable
without colour: filled versus hollow markers and solid versus dotted lines carry the meaning.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Polygon
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from analytics.evidence import EvidenceSynthesis
from analytics.meta import Heterogeneity, MetaAnalysis, Pooled, subgroup_label

FONT_SIZE_PT = 9
ROW_HEIGHT_IN = 0.27
TOP_MARGIN_IN = 0.55
BOTTOM_MARGIN_IN = 0.95
BLACK = "black"
GREY = "0.45"
LIGHT_GREY = "0.88"
MARKER_MIN_PT = 4.0
MARKER_MAX_PT = 13.0
# Log-axis ticks a clinician reads without thinking: 0.5, 1, 2, 5, 10...
LOG_TICKS = (
    0.001,
    0.002,
    0.005,
    0.01,
    0.02,
    0.05,
    0.1,
    0.2,
    0.5,
    1,
    2,
    5,
    10,
    20,
    50,
    100,
    200,
    500,
    1000,
)
# Within a single decade the round ticks leave a reader guessing; these fill the gaps.
FINE_LOG_TICKS = (0.1, 0.2, 0.3, 0.5, 0.7, 1, 1.5, 2, 3, 4, 5, 7, 10)
# Beyond these a CI is drawn as an arrow: one study's 1-to-400 interval must not squeeze the
# other rows into a sliver. Point estimates are always on the axis.
LOG_AXIS_LIMITS = (0.05, 50.0)
MEASURE_NAMES = {"RR": "Risk ratio", "OR": "Odds ratio"}
FAVOURS = ("Favours control", "Favours treated")
DPI = 150


@dataclass
class _Row:
    """One line of a table-beside-a-plot figure."""

    kind: str  # header, group, study, diamond, note, blank
    left: Sequence[str] = ()
    right: Sequence[str] = ()
    estimate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    marker: str = "s"
    marker_size_pt: float = 6.0
    filled: bool = True
    bold: bool = False


@dataclass
class _Layout:
    """Column positions (fraction of each text panel, alignment) and panel widths in inches."""

    left_columns: Sequence[tuple[float, str]]
    right_columns: Sequence[tuple[float, str]]
    left_width_in: float
    plot_width_in: float
    right_width_in: float
    log_x: bool = True
    x_label: str = ""
    x_limits: tuple[float, float] | None = None
    reference_lines: list[tuple[float, str]] = field(default_factory=list)
    favours: tuple[str, str] | None = None
    title: str = ""
    footnote: str = ""


def _format_number(value: float | None, digits: int = 2) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:.{digits}f}"


def format_p_value(p_value: float | None) -> str:
    if p_value is None or not math.isfinite(p_value):
        return "P n/a"
    if p_value < 0.0001:
        return "P < 0.0001"
    return f"P = {p_value:.4f}" if p_value < 0.001 else f"P = {p_value:.3f}"


def format_estimate(pooled: Pooled | None = None, *, estimate=None, ci_low=None, ci_high=None):
    if pooled is not None:
        estimate, ci_low, ci_high = pooled.estimate, pooled.ci_low, pooled.ci_high
    return f"{_format_number(estimate)} [{_format_number(ci_low)}, {_format_number(ci_high)}]"


def format_heterogeneity(heterogeneity: Heterogeneity | None) -> str:
    if heterogeneity is None:
        return "Heterogeneity: not applicable (one study)"
    return (
        f"Heterogeneity: Q = {heterogeneity.q:.2f}, df = {heterogeneity.df}, "
        f"{format_p_value(heterogeneity.p_value)}; I² = {heterogeneity.i2_percent:.1f}%; "
        f"τ² = {heterogeneity.tau2:.3f}"
    )


def _study_label(row) -> str:
    """ "Ahmadi 2019" when the table has a year for the study, else the study as written."""
    year = getattr(row, "year", None)
    if year is None or pd.isna(year) or not str(year).strip():
        return str(row.study)
    return f"{row.study} {year}"


def _is_registry(row) -> bool:
    # Only a real True counts: a blank (NaN) flag must not mark a published study.
    return getattr(row, "is_registry", False) in (True, np.True_)


def _log_limits(
    lows: Sequence[float], highs: Sequence[float], estimates: Sequence[float]
) -> tuple[float, float]:
    """Round ticks outside every CI (and 1), CIs cut at LOG_AXIS_LIMITS; estimates never cut."""
    positive = [x for x in estimates if math.isfinite(x) and x > 0]
    low = min(
        [max(x, LOG_AXIS_LIMITS[0]) for x in lows if math.isfinite(x) and x > 0] + positive + [1.0]
    )
    high = max(
        [min(x, LOG_AXIS_LIMITS[1]) for x in highs if math.isfinite(x) and x > 0] + positive + [1.0]
    )
    low = max([t for t in LOG_TICKS if t <= low], default=low / 1.5)
    high = min([t for t in LOG_TICKS if t >= high], default=high * 1.5)
    return low, high


def _marker_sizes_pt(weights_percent: Sequence[float]) -> list[float]:
    """Square side proportional to the square root of the weight, so its area tracks it."""
    largest = max(weights_percent) if len(weights_percent) else 1.0
    return [
        MARKER_MIN_PT + (MARKER_MAX_PT - MARKER_MIN_PT) * math.sqrt(max(w, 0) / largest)
        for w in weights_percent
    ]


def _draw(rows: list[_Row], layout: _Layout) -> Figure:
    n_rows = len(rows)
    # Each footnote line below the first needs its own room under the "favours" labels.
    bottom_in = BOTTOM_MARGIN_IN + 0.16 * layout.footnote.count("\n")
    height_in = TOP_MARGIN_IN + bottom_in + ROW_HEIGHT_IN * n_rows
    width_in = layout.left_width_in + layout.plot_width_in + layout.right_width_in + 0.3
    figure = Figure(figsize=(width_in, height_in), dpi=DPI)
    FigureCanvasAgg(figure)
    grid = figure.add_gridspec(
        1,
        3,
        width_ratios=[layout.left_width_in, layout.plot_width_in, layout.right_width_in],
        left=0.15 / width_in,
        right=1 - 0.15 / width_in,
        top=1 - TOP_MARGIN_IN / height_in,
        bottom=bottom_in / height_in,
        wspace=0.0,
    )
    ax_left = figure.add_subplot(grid[0, 0])
    ax_plot = figure.add_subplot(grid[0, 1], sharey=ax_left)
    ax_right = figure.add_subplot(grid[0, 2], sharey=ax_left)
    for ax in (ax_left, ax_right):
        ax.set_xlim(0, 1)
        ax.axis("off")
    ax_left.set_ylim(n_rows - 0.5, -0.5)

    if layout.log_x:
        ax_plot.set_xscale("log")
    lows = [r.ci_low for r in rows if r.ci_low is not None]
    highs = [r.ci_high for r in rows if r.ci_high is not None]
    estimates = [r.estimate for r in rows if r.estimate is not None]
    x_min, x_max = layout.x_limits or _log_limits(lows, highs, estimates)
    ax_plot.set_xlim(x_min, x_max)
    if layout.log_x:
        ticks = FINE_LOG_TICKS if x_max / x_min <= 10 else LOG_TICKS
        ax_plot.xaxis.set_major_locator(FixedLocator([t for t in ticks if x_min <= t <= x_max]))
        ax_plot.xaxis.set_minor_locator(NullLocator())
        ax_plot.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    for spine in ("left", "right", "top"):
        ax_plot.spines[spine].set_visible(False)
    ax_plot.tick_params(axis="y", left=False, labelleft=False)
    ax_plot.tick_params(axis="x", labelsize=FONT_SIZE_PT)
    ax_plot.set_xlabel(layout.x_label, fontsize=FONT_SIZE_PT)

    plotted = [i for i, r in enumerate(rows) if r.estimate is not None]
    first, last = (min(plotted), max(plotted)) if plotted else (0, n_rows - 1)
    for x, style in layout.reference_lines:
        if x_min <= x <= x_max:
            ax_plot.vlines(
                x,
                first - 0.5,
                last + 0.5,
                colors=GREY if style == ":" else BLACK,
                linestyles=style,
                linewidth=0.8,
                zorder=1,
            )

    text = {"fontsize": FONT_SIZE_PT, "va": "center"}
    for y, row in enumerate(rows):
        weight = "bold" if row.bold or row.kind in ("header", "group", "diamond") else "normal"
        style = "italic" if row.kind == "note" else "normal"
        text_left = {**text, "fontsize": FONT_SIZE_PT - 1 if row.kind == "note" else FONT_SIZE_PT}
        for (x, align), value in zip(layout.left_columns, row.left, strict=False):
            ax_left.text(x, y, value, ha=align, **text_left, fontweight=weight, fontstyle=style)
        for (x, align), value in zip(layout.right_columns, row.right, strict=False):
            ax_right.text(x, y, value, ha=align, **text, fontweight=weight)
        if row.kind == "header":
            for ax in (ax_left, ax_plot, ax_right):
                ax.axhline(y + 0.5, color=BLACK, linewidth=0.8)
        if row.estimate is None:
            continue
        if row.kind == "diamond":
            half_height = 0.38
            diamond = Polygon(
                [
                    (max(row.ci_low, x_min), y),
                    (row.estimate, y - half_height),
                    (min(row.ci_high, x_max), y),
                    (row.estimate, y + half_height),
                ],
                closed=True,
                facecolor=BLACK if row.filled else "white",
                edgecolor=BLACK,
                linewidth=1.0,
                zorder=3,
            )
            ax_plot.add_patch(diamond)
            continue
        low, high = max(row.ci_low, x_min), min(row.ci_high, x_max)
        ax_plot.hlines(y, low, high, colors=BLACK, linewidth=1.0, zorder=2)
        if row.ci_low < x_min:
            ax_plot.plot(x_min, y, marker="<", color=BLACK, markersize=5, zorder=2)
        if row.ci_high > x_max:
            ax_plot.plot(x_max, y, marker=">", color=BLACK, markersize=5, zorder=2)
        if x_min <= row.estimate <= x_max:
            ax_plot.plot(
                row.estimate,
                y,
                marker=row.marker,
                markersize=row.marker_size_pt,
                markerfacecolor=BLACK if row.filled else "white",
                markeredgecolor=BLACK,
                markeredgewidth=1.0,
                linestyle="none",
                zorder=3,
                # A rate of 100% sits on the axis limit; it must not be cut in half.
                clip_on=False,
            )

    if layout.favours and layout.log_x and x_min < 1 < x_max:
        for label, align, dx in (
            (f"← {layout.favours[0]}", "right", -4),
            (f"{layout.favours[1]} →", "left", 4),
        ):
            ax_plot.annotate(
                label,
                xy=(1, 0),
                xycoords=("data", "axes fraction"),
                xytext=(dx, -34),
                textcoords="offset points",
                ha=align,
                va="top",
                fontsize=FONT_SIZE_PT - 1,
            )
    if layout.title:
        figure.text(
            0.15 / width_in,
            1 - 0.2 / height_in,
            layout.title,
            ha="left",
            va="center",
            fontsize=FONT_SIZE_PT + 2,
            fontweight="bold",
        )
    if layout.footnote:
        figure.text(
            0.15 / width_in,
            0.15 / height_in,
            layout.footnote,
            ha="left",
            va="bottom",
            fontsize=FONT_SIZE_PT - 1,
            color=BLACK,
        )
    return figure


def _study_rows(studies: pd.DataFrame, *, weight_column: str) -> list[_Row]:
    sizes = _marker_sizes_pt(list(studies[weight_column]))
    rows = []
    for row, size in zip(studies.itertuples(index=False), sizes, strict=True):
        registry = _is_registry(row)
        rows.append(
            _Row(
                kind="study",
                left=(
                    _study_label(row) + (" (registry)" if registry else ""),
                    f"{row.events_treated}/{row.total_treated}",
                    f"{row.events_control}/{row.total_control}",
                ),
                right=(
                    format_estimate(estimate=row.estimate, ci_low=row.ci_low, ci_high=row.ci_high),
                    f"{getattr(row, weight_column):.1f}",
                ),
                estimate=row.estimate,
                ci_low=row.ci_low,
                ci_high=row.ci_high,
                # The registry's own row is a hollow circle: it is not a published study.
                marker="o" if registry else "s",
                marker_size_pt=size,
                filled=not registry,
                bold=registry,
            )
        )
    return rows


def _diamond_rows(analysis: MetaAnalysis, *, prefix: str, models: Sequence[str]) -> list[_Row]:
    rows = []
    for model in models:
        pooled = analysis.pooled(model)
        name = "Fixed effect (inverse variance)" if model == "fixed" else "Random effects (DL)"
        rows.append(
            _Row(
                kind="diamond",
                left=(f"{prefix}{name[0].lower() + name[1:]}" if prefix else name,),
                right=(format_estimate(pooled), "100.0" if not prefix else ""),
                estimate=pooled.estimate,
                ci_low=pooled.ci_low,
                ci_high=pooled.ci_high,
                # Fixed effect hollow, random effects filled, so print in grey loses nothing.
                filled=model == "random",
            )
        )
    return rows


def forest_figure(
    synthesis: EvidenceSynthesis,
    *,
    title: str = "",
    favours: tuple[str, str] | None = FAVOURS,
) -> Figure:
    """Study rows, fixed and random diamonds, heterogeneity; subgroup blocks when computed."""
    analysis = synthesis.analysis
    measure = analysis.measure
    weight_column = f"weight_{synthesis.model}_percent"
    studies = analysis.studies
    rows = [
        _Row(
            kind="header",
            left=("Study", "Treated n/N", "Control n/N"),
            right=(f"{measure} [95% CI]", "Weight %"),
        )
    ]
    if synthesis.subgroups:
        column = synthesis.subgroups.column
        labels = studies[column].map(subgroup_label)
        for group in synthesis.subgroups.groups:
            # Overall weights, so a square means the same in every block.
            members = studies.loc[labels == group.value].reset_index(drop=True)
            rows.append(_Row(kind="group", left=(f"{column}: {group.value}",)))
            rows.extend(_study_rows(members, weight_column=weight_column))
            if group.analysis.k > 1:
                rows.extend(
                    _diamond_rows(group.analysis, prefix="Subtotal, ", models=[synthesis.model])
                )
                rows.append(
                    _Row(kind="note", left=(format_heterogeneity(group.analysis.heterogeneity),))
                )
            rows.append(_Row(kind="blank"))
    else:
        rows.extend(_study_rows(studies, weight_column=weight_column))
        rows.append(_Row(kind="blank"))
    rows.extend(_diamond_rows(analysis, prefix="", models=["fixed", "random"]))
    rows.append(_Row(kind="note", left=(format_heterogeneity(analysis.heterogeneity),)))
    pooled = analysis.pooled(synthesis.model)
    rows.append(
        _Row(
            kind="note",
            left=(
                f"Overall effect ({synthesis.model}): {measure} {format_estimate(pooled)}, "
                f"{format_p_value(pooled.p_value)}",
            ),
        )
    )
    footnote = (
        f"Squares: studies, area proportional to {synthesis.model}-effects weight; "
        "lines: 95% CI; hollow diamond: fixed effect; filled diamond: random effects."
    )
    if studies.get("is_registry", pd.Series(dtype=bool)).astype(bool).any():
        footnote += "\nHollow circle: the registry's own comparison (not a published study)."
    layout = _Layout(
        left_columns=[(0.0, "left"), (0.75, "right"), (0.98, "right")],
        right_columns=[(0.06, "left"), (0.97, "right")],
        left_width_in=4.3,
        plot_width_in=4.2,
        right_width_in=2.3,
        x_label=f"{MEASURE_NAMES[measure]} (log scale)",
        reference_lines=[(1.0, "-"), (pooled.estimate, ":")],
        favours=favours,
        title=title,
        footnote=footnote,
    )
    return _draw(rows, layout)


def leave_one_out_figure(synthesis: EvidenceSynthesis, *, title: str = "") -> Figure:
    """The pooled estimate with each study omitted, against the estimate from all studies."""
    analysis = synthesis.analysis
    measure = analysis.measure
    labels = {row.study: _study_label(row) for row in analysis.studies.itertuples(index=False)}
    rows = [_Row(kind="header", left=("Study omitted", "k"), right=(f"{measure} [95% CI]", "I² %"))]
    for row in synthesis.leave_one_out.itertuples(index=False):
        rows.append(
            _Row(
                kind="study",
                left=(labels.get(row.omitted, row.omitted), str(row.k)),
                right=(
                    format_estimate(estimate=row.estimate, ci_low=row.ci_low, ci_high=row.ci_high),
                    _format_number(row.i2_percent, 1),
                ),
                estimate=row.estimate,
                ci_low=row.ci_low,
                ci_high=row.ci_high,
                marker="o",
                marker_size_pt=6.0,
            )
        )
    rows.append(_Row(kind="blank"))
    pooled = analysis.pooled(synthesis.model)
    heterogeneity = analysis.heterogeneity
    rows.append(
        _Row(
            kind="diamond",
            left=("All studies", str(analysis.k)),
            right=(
                format_estimate(pooled),
                _format_number(heterogeneity.i2_percent if heterogeneity else None, 1),
            ),
            estimate=pooled.estimate,
            ci_low=pooled.ci_low,
            ci_high=pooled.ci_high,
            filled=synthesis.model == "random",
        )
    )
    layout = _Layout(
        left_columns=[(0.0, "left"), (0.95, "right")],
        right_columns=[(0.06, "left"), (0.95, "right")],
        left_width_in=2.6,
        plot_width_in=4.0,
        right_width_in=2.1,
        x_label=f"Pooled {MEASURE_NAMES[measure].lower()}, {synthesis.model} effects (log scale)",
        reference_lines=[(1.0, "-"), (pooled.estimate, ":")],
        title=title,
        footnote="Each row pools every study but the one named; dotted line: all studies.",
    )
    return _draw(rows, layout)


def funnel_figure(synthesis: EvidenceSynthesis, *, title: str = "") -> Figure:
    """Standard error against effect, with the 95% pseudo-confidence funnel around the
    fixed-effect estimate; Egger's test in the corner when it could be run."""
    analysis = synthesis.analysis
    studies = analysis.studies
    figure = Figure(figsize=(6.0, 4.8), dpi=DPI)
    FigureCanvasAgg(figure)
    ax = figure.add_subplot(1, 1, 1)
    se_max = float(studies["se_log"].max()) * 1.1
    centre = analysis.fixed.log_estimate
    se_grid = np.linspace(0, se_max, 50)
    z = 1.959963984540054
    ax.plot(np.exp(centre - z * se_grid), se_grid, color=GREY, linestyle="--", linewidth=0.8)
    ax.plot(np.exp(centre + z * se_grid), se_grid, color=GREY, linestyle="--", linewidth=0.8)
    ax.vlines(np.exp(centre), 0, se_max, colors=BLACK, linewidth=0.8)
    ax.vlines(analysis.random.estimate, 0, se_max, colors=GREY, linestyles=":", linewidth=1.0)
    registry = studies.get("is_registry", pd.Series(False, index=studies.index)).astype(bool)
    for is_registry, marker in ((False, "o"), (True, "D")):
        chosen = studies.loc[registry == is_registry]
        if chosen.empty:
            continue
        ax.plot(
            chosen["estimate"],
            chosen["se_log"],
            marker=marker,
            linestyle="none",
            markerfacecolor="white" if is_registry else BLACK,
            markeredgecolor=BLACK,
            markersize=6,
            label="registry" if is_registry else "published study",
        )
    ax.set_xscale("log")
    ax.set_ylim(se_max, 0)
    ax.xaxis.set_minor_locator(NullLocator())
    low = min(float(np.exp(centre - z * se_max)), float(studies["estimate"].min()))
    high = max(float(np.exp(centre + z * se_max)), float(studies["estimate"].max()))
    ax.set_xlim(low / 1.2, high * 1.2)
    ax.xaxis.set_major_locator(FixedLocator([t for t in LOG_TICKS if low / 1.2 <= t <= high * 1.2]))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    _label_points(ax, studies)
    ax.set_xlabel(f"{MEASURE_NAMES[analysis.measure]} (log scale)", fontsize=FONT_SIZE_PT)
    ax.set_ylabel("Standard error of log " + analysis.measure, fontsize=FONT_SIZE_PT)
    ax.tick_params(labelsize=FONT_SIZE_PT)
    egger = (
        f"Egger's test: intercept {synthesis.egger.intercept:.2f}, "
        f"{format_p_value(synthesis.egger.p_value)}"
        if synthesis.egger
        else f"Egger's test not run (k = {analysis.k})"
    )
    ax.set_title(title or "Funnel plot", fontsize=FONT_SIZE_PT + 1, fontweight="bold", loc="left")
    # On the title line, where no point or funnel line can sit under it.
    ax.set_title(egger, fontsize=FONT_SIZE_PT, loc="right")
    figure.text(
        0.01,
        0.01,
        "Solid line: fixed effect; dotted: random effects; dashed: 95% pseudo-CI.",
        fontsize=FONT_SIZE_PT - 2,
    )
    figure.tight_layout(rect=(0, 0.03, 1, 1))
    return figure


def _label_points(ax, studies: pd.DataFrame) -> None:
    """Name each point, nudging a label down when it would sit on one already placed."""
    figure = ax.figure
    points_per_pixel = 72 / figure.dpi
    placed: list[tuple[float, float]] = []
    ordered = studies.sort_values(["se_log", "estimate"])
    for row in ordered.itertuples(index=False):
        x_px, y_px = ax.transData.transform((row.estimate, row.se_log))
        x_pt, y_pt = x_px * points_per_pixel + 5, y_px * points_per_pixel + 2
        width_pt = 0.6 * (FONT_SIZE_PT - 2) * len(str(row.study))
        while any(
            abs(y_pt - py) < FONT_SIZE_PT and abs(x_pt - px) < width_pt + 4 for px, py in placed
        ):
            y_pt -= FONT_SIZE_PT
        placed.append((x_pt, y_pt))
        ax.annotate(
            str(row.study),
            (row.estimate, row.se_log),
            xytext=(x_pt - (x_px * points_per_pixel), y_pt - (y_px * points_per_pixel)),
            textcoords="offset points",
            fontsize=FONT_SIZE_PT - 2,
        )


def cohort_beside_arms_figure(arms: pd.DataFrame, *, title: str = "") -> Figure:
    """Treated-arm event rates with exact 95% CIs, the registry cohort last and hollow."""
    rows = [_Row(kind="header", left=("Treated arm", "n/N"), right=("Rate % [95% CI]",))]
    for row in arms.itertuples(index=False):
        rows.append(
            _Row(
                kind="study",
                left=(
                    row.label + (" (registry)" if row.is_registry else ""),
                    f"{row.events}/{row.total}",
                ),
                right=(
                    f"{100 * row.proportion:.0f} [{100 * row.ci_low:.0f}, {100 * row.ci_high:.0f}]",
                ),
                estimate=100 * row.proportion,
                ci_low=100 * row.ci_low,
                ci_high=100 * row.ci_high,
                marker="D" if row.is_registry else "o",
                marker_size_pt=7.0,
                filled=not row.is_registry,
                bold=bool(row.is_registry),
            )
        )
    layout = _Layout(
        left_columns=[(0.0, "left"), (0.95, "right")],
        right_columns=[(0.06, "left")],
        left_width_in=2.8,
        plot_width_in=4.0,
        right_width_in=1.6,
        log_x=False,
        x_limits=(0, 100),
        x_label="Event rate in the treated arm, % (Clopper-Pearson 95% CI)",
        title=title,
        footnote="Filled circles: published treated arms; hollow diamond: the registry cohort.",
    )
    return _draw(rows, layout)


def figure_bytes(figure: Figure, *, image_format: str) -> bytes:
    buffer = io.BytesIO()
    # SVG text stays text (searchable, copyable, a tenth of the size) instead of glyph outlines.
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        figure.savefig(buffer, format=image_format, dpi=DPI)
    return buffer.getvalue()


def figure_data_uri(figure: Figure, *, image_format: str = "svg") -> str:
    mime = {"svg": "image/svg+xml", "png": "image/png"}[image_format]
    encoded = base64.b64encode(figure_bytes(figure, image_format=image_format)).decode("ascii")
    return f"data:{mime};base64,{encoded}"


def write_evidence_plots(
    synthesis: EvidenceSynthesis, *, out_dir: Path, title: str = ""
) -> list[Path]:
    """forest.png and .svg, leave_one_out.png and funnel.png in `out_dir`; returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    measure = synthesis.measure
    forest = forest_figure(synthesis, title=title or f"{measure}, treated vs control")
    figures = [
        ("forest", forest, ("png", "svg")),
        ("leave_one_out", leave_one_out_figure(synthesis, title="Leave-one-out"), ("png",)),
        ("funnel", funnel_figure(synthesis), ("png",)),
    ]
    written = []
    for name, figure, formats in figures:
        for image_format in formats:
            path = out_dir / f"{name}.{image_format}"
            path.write_bytes(figure_bytes(figure, image_format=image_format))
            written.append(path)
    return written
