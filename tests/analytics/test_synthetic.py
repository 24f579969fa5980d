"""The synthetic cohort: same seed, same data; every row passes the database's constraints and
triggers and is audited; the metrics read it without a NaN."""

import json
import re
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command

from analytics import synthetic
from analytics.cohort import cohort_snapshot
from analytics.queries import cohort_frames
from outcomes.models import EmbryoTransfer, Pregnancy, PregnancyOutcome
from registry import study_ids
from registry.models import Infusion, Patient, Product, Protocol, Site


def offline_references() -> synthetic.References:
    """Unsaved reference rows: drawing a patient needs no database."""
    protocols = {
        code: Protocol(code=code, **values) for code, values in synthetic.PROTOCOLS.items()
    }
    products = {route: Product(**values) for route, values in synthetic.PRODUCTS.items()}
    sites = [
        (Site(code=code, name=name), share, main) for code, name, share, main in synthetic.SITES
    ]
    return synthetic.References(sites=sites, protocols=protocols, products=products)


def values_of(rows: synthetic.PatientRows) -> list[tuple]:
    """Every drawn field value of a patient's rows, foreign keys by their target's values."""
    drawn = []
    for attribute, model in synthetic.WRITE_ORDER:
        objects = getattr(rows, attribute)
        for row in objects if isinstance(objects, list) else [objects]:
            drawn.append(
                (
                    model.__name__,
                    tuple(
                        str(getattr(row, field.name))
                        for field in model._meta.concrete_fields
                        if not field.primary_key and not field.is_relation
                    ),
                )
            )
    return drawn


def test_the_same_seed_draws_the_same_patient_and_another_seed_another():
    refs = offline_references()
    first = values_of(synthetic.draw_patient(7, 42, refs))
    assert values_of(synthetic.draw_patient(7, 42, refs)) == first
    assert values_of(synthetic.draw_patient(8, 42, refs)) != first
    assert values_of(synthetic.draw_patient(7, 43, refs)) != first


def test_study_ids_are_random_looking_and_follow_the_registry_pattern():
    refs = offline_references()
    ids = {synthetic.draw_patient(1, index, refs).patient.study_id for index in range(200)}
    assert len(ids) == 200
    assert all(re.match(study_ids.PATTERN, value) for value in ids)


def test_drawn_histories_stay_inside_the_protocol_and_the_cut_off():
    refs = offline_references()
    for index in range(300):
        rows = synthetic.draw_patient(3, index, refs)
        patient = rows.patient
        assert 18 <= (patient.screened_on - patient.date_of_birth).days // 365 <= 42
        dates = [i.given_on for i in rows.infusions] + [t.transferred_on for t in rows.transfers]
        dates += [o.ended_on for o in rows.outcomes]
        assert all(on <= synthetic.AS_OF for on in dates)
        if rows.infusions:
            assert min(i.given_on for i in rows.infusions) >= rows.consents[0].signed_on
        assert len(rows.transfers) <= synthetic.MAX_TRANSFERS


@pytest.mark.django_db
def test_a_generated_cohort_passes_every_constraint_and_trigger_and_is_audited():
    summary = synthetic.synthetic_cohort_generate(patients=120, seed=5, batch_patients=50)
    assert summary.patients == Patient.objects.count() == 120
    assert summary.rows["Infusion"] == Infusion.objects.count() > 120
    assert (
        EmbryoTransfer.objects.filter(result="pending").exists()
        or Pregnancy.objects.filter(outcome__isnull=True).exists()
    )
    assert PregnancyOutcome.objects.filter(kind="live_birth").exists()
    patient_events = apps.get_model("registry", "PatientEvent").objects
    assert patient_events.filter(pgh_label="insert").count() == 120
    assert patient_events.first().pgh_context.metadata["source"] == "generate_synthetic"


@pytest.mark.django_db
def test_generating_again_after_deleting_gives_the_same_data():
    def dump() -> list:
        return sorted(
            (
                patient.study_id,
                patient.indication,
                str(patient.screened_on),
                patient.status,
                tuple(
                    sorted(
                        (str(i.given_on), str(i.dose_g), i.route)
                        for i in Infusion.objects.filter(cycle__patient=patient)
                    )
                ),
            )
            for patient in Patient.objects.all()
        )

    synthetic.synthetic_cohort_generate(patients=40, seed=9, batch_patients=15)
    first = dump()
    Patient.objects.all().delete()
    synthetic.synthetic_cohort_generate(patients=40, seed=9, batch_patients=40)
    assert dump() == first


@pytest.mark.django_db
def test_the_same_seed_twice_in_one_database_is_refused():
    synthetic.synthetic_cohort_generate(patients=3, seed=11)
    with pytest.raises(ValueError, match="seed 11 is already in this database"):
        synthetic.synthetic_cohort_generate(patients=3, seed=11)


@pytest.mark.django_db
def test_the_command_puts_every_patient_at_the_site_asked_for_and_the_metrics_read_them():
    out = StringIO()
    call_command(
        "generate_synthetic",
        "--patients",
        "80",
        "--seed",
        "4",
        "--site",
        "OSLO",
        "--no-progress",
        stdout=out,
    )
    assert "80 synthetic patients" in out.getvalue()
    assert set(Patient.objects.values_list("site__code", flat=True)) == {"OSLO"}
    report = cohort_snapshot(cohort_frames())
    json.dumps(report, allow_nan=False)
    births = report["live_birth_per_treated_patient"]
    assert 0 < births["events"] < births["total"]


@pytest.mark.django_db
def test_the_command_refuses_a_bad_site_code():
    with pytest.raises(CommandError, match="2 to 6 capital letters"):
        call_command("generate_synthetic", "--patients", "1", "--seed", "1", "--site", "oslo")
