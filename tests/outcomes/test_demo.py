"""The demo cohort: loads, changes nothing the second time, and has the shape of its papers."""

from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command

from outcomes import gestation
from outcomes.models import AdverseEvent, EmbryoTransfer, Infant, PregnancyOutcome
from registry.models import Infusion, Patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(tmp_path, settings):
    settings.VAR_DIR = tmp_path
    out = StringIO()
    call_command("load_demo", stdout=out)
    (tmp_path / "out.txt").write_text(out.getvalue())
    return tmp_path


def event_count() -> int:
    return sum(
        model.objects.count()
        for model in apps.get_models()
        if model.__name__.endswith("Event") and hasattr(model, "pgh_obj")
    )


def test_loading_the_demo_twice_changes_nothing(demo):
    rows = {m.__name__: m.objects.count() for m in apps.get_models()}
    events = event_count()
    again = StringIO()
    call_command("load_demo", stdout=again)
    assert {m.__name__: m.objects.count() for m in apps.get_models()} == rows
    assert event_count() == events
    assert "0 patients loaded, 67 already present" in again.getvalue()


def test_the_demo_prints_the_logins_and_keeps_the_password_out_of_git(demo):
    out = (demo / "out.txt").read_text()
    password = (demo / "demo-password.txt").read_text().strip()
    assert "nurse.mtl" in out and "researcher" in out and password in out
    assert get_user_model().objects.get(username="nurse.mtl").check_password(password)


def test_the_montreal_cohort_has_the_shape_of_the_case_series(demo):
    mtl = Patient.objects.filter(site__code="MTL")
    assert mtl.count() == 15
    transfers = EmbryoTransfer.objects.filter(cycle__patient__site__code="MTL")
    assert transfers.count() == 13
    assert transfers.filter(result="negative").count() == 2
    births = PregnancyOutcome.objects.filter(pregnancy__patient__site__code="MTL")
    assert births.filter(kind="live_birth").count() == 13
    natural = mtl.filter(pregnancies__conception="natural").count()
    assert natural == 2
    headaches = AdverseEvent.objects.filter(patient__site__code="MTL", term="headache")
    assert headaches.values("patient").distinct().count() == 6
    scig = Infusion.objects.filter(cycle__patient__site__code="MTL", route="scig")
    assert scig.values("cycle__patient").distinct().count() == 4

    def ga(outcome):
        return gestation.format_ga(outcome.pregnancy.ga_days_on(outcome.ended_on))

    twins = births.get(pregnancy__fetuses=2)
    assert ga(twins) == "37+2"
    preterm = sorted(ga(o) for o in births if o.pregnancy.ga_days_on(o.ended_on) < 37 * 7)
    assert preterm == ["33+5", "34+3"]
    boy = Infant.objects.get(pregnancy__outcome__in=births, birth_weight_g=2690)
    assert boy.sex == "male" and ga(boy.pregnancy.outcome) == "33+5"
    anomaly = AdverseEvent.objects.get(patient__site__code="MTL", term="fetal_anomaly")
    assert gestation.format_ga(anomaly.pregnancy.ga_days_on(anomaly.onset_on)) == "26+0"


def test_every_montreal_ivig_induction_is_600_to_800_mg_per_kg_5_to_10_days_before_et(demo):
    for transfer in EmbryoTransfer.objects.filter(cycle__patient__site__code="MTL"):
        first = transfer.cycle.infusions.order_by("given_on").first()
        if first.route != "ivig":
            continue
        assert 600 <= first.dose_mg_per_kg <= 800
        assert 5 <= (transfer.transferred_on - first.given_on).days <= 10


def test_the_copenhagen_cohort_has_the_shape_of_seed_002(demo):
    cph = Patient.objects.filter(site__code="CPH")
    assert cph.count() == 52
    first = PregnancyOutcome.objects.filter(
        pregnancy__patient__site__code="CPH", pregnancy__cycle__number=1, kind="live_birth"
    )
    assert first.count() == 19
    ever = cph.filter(pregnancies__outcome__kind="live_birth").distinct().count()
    assert ever == 32
    per_patient = [p.cycles.count() for p in cph.prefetch_related("cycles")]
    assert min(per_patient) == 1 and max(per_patient) == 5
