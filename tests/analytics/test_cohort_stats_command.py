"""`manage.py cohort_stats` on the demo cohort: the figures of seeds 000 and 002 come out of the
method applied to the data (load_demo writes the rows; nothing here is a stored rate)."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from analytics.models import CohortSnapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(tmp_path, settings):
    settings.VAR_DIR = tmp_path
    call_command("load_demo", stdout=StringIO())


def cohort_stats(*args) -> dict:
    out = StringIO()
    call_command("cohort_stats", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def percent(value: float) -> float:
    return round(value * 100, 1)


def test_montreal_has_13_of_15_live_births_per_treated_patient_with_the_exact_ci(demo):
    report = cohort_stats("--site", "MTL")
    births = report["live_birth_per_treated_patient"]
    assert (births["events"], births["total"], births["pending"]) == (13, 15, 0)
    assert percent(births["rate"]) == 86.7
    assert (percent(births["ci_low"]), percent(births["ci_high"])) == (59.5, 98.3)
    assert report["cohort"]["sites"] == ["MTL"]


def test_montreal_has_2_of_13_ivf_patients_with_failed_transfers_and_6_of_15_headaches(demo):
    report = cohort_stats("--site", "MTL")
    failed = report["failed_transfer_per_ivf_patient"]
    assert (failed["events"], failed["total"]) == (2, 13)
    headache = report["adverse_events"]["by_term"]["headache"]
    assert (headache["events"], headache["total"], percent(headache["rate"])) == (6, 15, 40.0)


def test_copenhagen_has_19_of_52_after_the_first_transfer_and_32_of_52_after_five(demo):
    report = cohort_stats("--site", "CPH")
    first = report["live_birth_after_first_transfer"]
    assert (first["events"], first["total"], percent(first["rate"])) == (19, 52, 36.5)
    cumulative = report["cumulative_live_birth"]["5"]
    assert (cumulative["events"], cumulative["total"], percent(cumulative["rate"])) == (
        32,
        52,
        61.5,
    )
    assert cumulative["events"] == report["cumulative_live_birth"]["4"]["events"] + 1


def test_every_metric_has_events_total_rate_and_ci_and_the_json_has_no_nan(demo):
    out = StringIO()
    call_command("cohort_stats", "--json", stdout=out)
    text = out.getvalue()
    assert "NaN" not in text and "Infinity" not in text
    report = json.loads(text)
    for name in (
        "live_birth_per_treated_patient",
        "live_birth_per_enrolled_patient",
        "live_birth_after_first_transfer",
        "live_birth_per_transfer",
        "clinical_pregnancy_per_transfer",
        "miscarriage_per_clinical_pregnancy",
        "preterm_birth_per_live_birth_delivery",
    ):
        assert {"events", "total", "rate", "ci_low", "ci_high"} <= set(report[name]), name
    assert report["live_birth_per_transfer"]["pending"] == 0
    assert report["cohort"]["patients"] == 67
    assert report["code_version"].startswith("ivig-registry")


def test_the_readable_report_prints_the_headline_rate(demo):
    out = StringIO()
    call_command("cohort_stats", "--site", "MTL", stdout=out)
    assert "13/15 86.7% (95% CI 59.5-98.3%)" in out.getvalue()


def test_store_keeps_the_snapshot_it_prints(demo):
    out = StringIO()
    call_command(
        "cohort_stats", "--site", "CPH", "--json", "--store", stdout=out, stderr=StringIO()
    )
    stored = CohortSnapshot.objects.get()
    assert stored.filters["sites"] == ["CPH"]
    assert stored.as_json() == json.loads(out.getvalue())


def test_an_unknown_site_is_refused_by_name(demo):
    with pytest.raises(CommandError, match="no site with code XYZ"):
        call_command("cohort_stats", "--site", "XYZ", "--json", stdout=StringIO())


def test_an_empty_registry_prints_no_data_not_a_crash():
    report = cohort_stats()
    assert report["cohort"]["patients"] == 0
    assert report["live_birth_per_treated_patient"]["note"] == "no data"
