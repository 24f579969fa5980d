"""The plots render to PNG and SVG and say what they show."""

import matplotlib
import pytest

from analytics.cohort_comparison import add_registry_comparison, cohort_beside_arms
from analytics.evidence import synthesise_evidence
from analytics.forest import (
    cohort_beside_arms_figure,
    figure_bytes,
    figure_data_uri,
    forest_figure,
    funnel_figure,
    leave_one_out_figure,
    write_evidence_plots,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def figure_texts(figure) -> list[str]:
    return [text.get_text() for text in figure.findobj(matplotlib.text.Text)]


def test_the_forest_plot_shows_every_study_and_both_pooled_estimates(published):
    texts = figure_texts(forest_figure(synthesise_evidence(published)))
    for label in ("Ahmadi 2019", "Perricone 2008", "8.64 [2.31, 32.33]", "1.98 [1.44, 2.73]"):
        assert label in texts
    assert "Fixed effect (inverse variance)" in texts
    assert "Random effects (DL)" in texts
    assert any(t.startswith("Heterogeneity: Q = 19.36, df = 7") for t in texts)


def test_the_forest_plot_draws_subgroup_blocks(published):
    texts = figure_texts(
        forest_figure(synthesise_evidence(published, subgroup_column="nk_selection"))
    )
    assert "nk_selection: yes" in texts
    assert "nk_selection: no" in texts
    assert "2.32 [1.78, 3.02]" in texts


def test_the_registry_row_is_marked_in_the_forest_plot(published):
    combined = add_registry_comparison(
        published,
        label="Registry",
        events_treated=30,
        total_treated=41,
        events_control=5,
        total_control=12,
    )
    texts = figure_texts(forest_figure(synthesise_evidence(combined)))
    assert "Registry (registry)" in texts


@pytest.mark.parametrize("make", [forest_figure, leave_one_out_figure, funnel_figure])
def test_each_plot_renders_as_png_and_svg(published, make):
    figure = make(synthesise_evidence(published))
    assert figure_bytes(figure, image_format="png").startswith(PNG_MAGIC)
    assert b"<svg" in figure_bytes(figure, image_format="svg")


def test_svg_keeps_its_text_as_text(published):
    svg = figure_bytes(forest_figure(synthesise_evidence(published)), image_format="svg")
    assert b"1.98 [1.44, 2.73]" in svg


def test_a_data_uri_is_ready_for_an_img_tag(published):
    uri = figure_data_uri(funnel_figure(synthesise_evidence(published)), image_format="png")
    assert uri.startswith("data:image/png;base64,iVBOR")


def test_the_funnel_plot_reports_eggers_test_or_why_not(published):
    assert "Egger's test: intercept 1.44, P = 0.362" in figure_texts(
        funnel_figure(synthesise_evidence(published))
    )
    two = published.head(2)
    assert "Egger's test not run (k = 2)" in figure_texts(funnel_figure(synthesise_evidence(two)))


def test_the_cohort_is_drawn_beside_the_published_arms(published):
    arms = cohort_beside_arms(published, cohort_events=30, cohort_total=41, label="Registry")
    texts = figure_texts(cohort_beside_arms_figure(arms))
    assert "Registry (registry)" in texts
    assert "100 [74, 100]" in texts


def test_write_evidence_plots_writes_the_four_files(published, tmp_path):
    written = write_evidence_plots(synthesise_evidence(published), out_dir=tmp_path / "plots")
    assert sorted(path.name for path in written) == [
        "forest.png",
        "forest.svg",
        "funnel.png",
        "leave_one_out.png",
    ]
    assert all(path.stat().st_size > 1000 for path in written)
