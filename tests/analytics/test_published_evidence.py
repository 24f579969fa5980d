"""The published-evidence table: its constraints, its loader and the commands that read it."""

import json
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction

from analytics.models import IvigStart, PublishedStudy
from analytics.queries import published_studies_frame
from tests.analytics.factories import PublishedStudyFactory

pytestmark = pytest.mark.django_db


def load(*args) -> str:
    out = StringIO()
    call_command("load_published_evidence", *args, stdout=out)
    return out.getvalue()


def test_loading_the_fixture_creates_the_eight_studies():
    assert "8 studies (8 created, 0 updated)" in load()
    ahmadi = PublishedStudy.objects.get(study="Ahmadi", year=2019)
    assert (ahmadi.events_treated, ahmadi.total_treated) == (33, 38)
    assert (ahmadi.events_control, ahmadi.total_control) == (18, 40)
    assert ahmadi.nk_selection is True
    assert ahmadi.ivig_start == IvigStart.AFTER_PREGNANCY_CONFIRMED
    assert ahmadi.country == "Iran"


def test_loading_twice_changes_nothing():
    load()
    before = list(PublishedStudy.objects.order_by("pk").values())
    assert "8 studies (0 created, 8 updated)" in load()
    assert list(PublishedStudy.objects.order_by("pk").values()) == before


def test_loading_restores_an_edited_count():
    load()
    PublishedStudy.objects.filter(study="Winger").update(events_treated=1)
    load()
    assert PublishedStudy.objects.get(study="Winger").events_treated == 20


def test_a_bad_row_is_refused_before_anything_is_written(tmp_path, published_csv):
    lines = published_csv.read_text().splitlines()
    lines[3] = lines[3].replace(",5,7,", ",9,7,")  # Mahmoud: 9 live births of 7 women
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(CommandError, match=r"row 3 \(study 'Mahmoud'\), column 'events_treated'"):
        load("--path", str(path))
    assert not PublishedStudy.objects.exists()


def test_an_unknown_timing_is_refused_naming_row_and_column(tmp_path, published_csv):
    text = published_csv.read_text().replace("before_conception", "preconception", 1)
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(CommandError, match=r"row 7 \(study 'Stricker'\), column 'ivig_start'"):
        load("--path", str(path))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"events_treated": -1}, "events_treated must not be negative."),
        ({"events_control": 26}, "events_control must not exceed total_control."),
        ({"events_treated": 26}, "events_treated must not exceed total_treated."),
        ({"total_control": 0, "events_control": 0}, "total_control must be at least 1."),
    ],
)
def test_impossible_counts_are_refused_with_a_message_naming_the_field(fields, message):
    study = PublishedStudyFactory.build(**fields)
    with pytest.raises(ValidationError) as error:
        study.full_clean()
    assert message in str(error.value)
    # The database holds the line too, for writes that skip validation.
    with pytest.raises(IntegrityError), transaction.atomic():
        study.save()


def test_a_study_and_year_appear_once():
    PublishedStudyFactory(study="Smith", year=2001)
    PublishedStudyFactory(study="Smith", year=2002)
    with pytest.raises(IntegrityError), transaction.atomic():
        PublishedStudyFactory(study="Smith", year=2001)


def test_the_frame_speaks_the_fixture_vocabulary(django_assert_num_queries):
    load()
    with django_assert_num_queries(1):
        frame = published_studies_frame()
    assert len(frame) == 8
    assert set(frame["nk_selection"]) == {"yes", "no"}
    assert list(frame.columns[:2]) == ["study", "year"]


def test_metaanalysis_from_the_database_matches_the_csv(published_csv):
    load()
    from_db, from_csv = StringIO(), StringIO()
    call_command("metaanalysis", "--from-db", "--json", stdout=from_db)
    call_command("metaanalysis", str(published_csv), "--json", stdout=from_csv)
    assert json.loads(from_db.getvalue()) == json.loads(from_csv.getvalue())


def test_metaanalysis_from_an_empty_table_says_how_to_fill_it():
    with pytest.raises(CommandError, match=r"run `manage\.py load_published_evidence`"):
        call_command("metaanalysis", "--from-db", "--json", stdout=StringIO())


def test_plot_evidence_writes_the_plots_from_the_database(tmp_path):
    load()
    out = StringIO()
    call_command("plot_evidence", "--out", str(tmp_path), "--subgroup", "nk_selection", stdout=out)
    names = sorted(path.name for path in tmp_path.iterdir())
    assert names == ["forest.png", "forest.svg", "funnel.png", "leave_one_out.png"]
    assert str(tmp_path / "forest.png") in out.getvalue()


def test_plot_evidence_reads_a_csv_when_given_one(tmp_path, published_csv):
    call_command(
        "plot_evidence", "--out", str(tmp_path), "--csv", str(published_csv), stdout=StringIO()
    )
    assert (tmp_path / "funnel.png").exists()
