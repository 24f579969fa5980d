"""Dashboard figures from hand-written cohorts: drawn without pyplot, readable without colour."""

import re

from analytics.cohort import cohort_snapshot
from analytics.cohort_figures import (
    adverse_events_figure,
    cumulative_live_birth_figure,
    subgroup_figure,
)
from analytics.forest import figure_bytes
from analytics.options import SUBGROUPS
from tests.analytics.cohort_rows import adverse_event, frames, patient, pregnancy, transfer

HEX_COLOUR = re.compile(r"#([0-9a-fA-F]{2})([0-9a-fA-F]{2})([0-9a-fA-F]{2})\b")


def svg(figure) -> str:
    return figure_bytes(figure, image_format="svg").decode()


def only_greys(text: str) -> bool:
    return all(r == g == b for r, g, b in HEX_COLOUR.findall(text))


def small_cohort() -> dict:
    return cohort_snapshot(
        frames(
            patients=[
                patient(1),
                patient(2, infusions_ivig=0, infusions_scig=1),
                patient(3),
            ],
            transfers=[
                transfer(10, 1, "clinical"),
                transfer(20, 2, "negative"),
                transfer(21, 2, "clinical", days_after=100),
                transfer(30, 3, "negative"),
            ],
            pregnancies=[pregnancy(100, 1, transfer_id=10), pregnancy(210, 2, transfer_id=21)],
            adverse_events=[adverse_event(1), adverse_event(2, infusion_route="scig")],
        )
    )


def test_every_figure_is_drawn_in_black_grey_and_white_only():
    snapshot = small_cohort()
    for figure in (
        cumulative_live_birth_figure(snapshot),
        adverse_events_figure(snapshot),
        subgroup_figure(snapshot, subgroups=SUBGROUPS),
    ):
        text = svg(figure)
        assert "<svg" in text and only_greys(text)


def test_the_cumulative_figure_labels_each_point_with_its_counts():
    text = svg(cumulative_live_birth_figure(small_cohort()))
    assert "1/3" in text and "2/3" in text


def test_an_empty_cohort_draws_a_message_instead_of_an_empty_axis():
    empty = cohort_snapshot(frames())
    assert "No transfers with a known outcome yet" in svg(cumulative_live_birth_figure(empty))
    assert "No adverse events linked to an infusion" in svg(adverse_events_figure(empty))
    assert "No treated patients" in svg(subgroup_figure(empty, subgroups=SUBGROUPS))
