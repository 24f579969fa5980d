"""Synthetic test data. Dates are fixed so tests read the same every day."""

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from outcomes import gestation
from outcomes.models import (
    AdverseEvent,
    EmbryoTransfer,
    FollowUpVisit,
    Infant,
    Pregnancy,
    PregnancyOutcome,
)
from registry import roles, study_ids
from registry.models import (
    Consent,
    ImmuneTest,
    Infusion,
    Patient,
    Product,
    Protocol,
    Site,
    SiteMembership,
    TreatmentCycle,
)

ENROLLED_ON = dt.date(2025, 1, 6)
TRANSFER_ON = dt.date(2025, 3, 3)


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: "S" + "ABCDEFGHJK"[n % 10] + "ABCDEFGHJK"[n // 10 % 10])
    name = factory.LazyAttribute(lambda o: f"Site {o.code}")


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    site = factory.SubFactory(SiteFactory)
    study_id = factory.LazyAttribute(lambda o: study_ids.new_study_id(o.site.code))
    given_name = factory.Sequence(lambda n: f"Given{n}")
    family_name = factory.Sequence(lambda n: f"Family{n}")
    mrn = factory.Sequence(lambda n: f"MRN{n:07d}")
    date_of_birth = dt.date(1990, 5, 17)
    email = factory.Sequence(lambda n: f"patient{n}@example.org")
    phone = "+1-555-0100"
    indication = Patient.Indication.RPL
    unexplained_miscarriages = 5
    conventional_treatment_failed = True
    status = Patient.Status.ENROLLED
    screened_on = dt.date(2025, 1, 2)
    enrolled_on = ENROLLED_ON


class ConsentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Consent

    patient = factory.SubFactory(PatientFactory)
    version = "v1"
    signed_on = ENROLLED_ON


class ImmuneTestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ImmuneTest

    patient = factory.SubFactory(PatientFactory)
    analyte = ImmuneTest.Analyte.NK_PERCENT
    value = Decimal("13.5")
    unit = "%"
    tested_on = ENROLLED_ON
    abnormal = True


class ProtocolFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Protocol
        django_get_or_create = ("code",)

    code = "seed-000"
    name = "Seed 000 protocol"


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ("name",)

    name = "IVIg 10%"
    route = "ivig"
    vial_step_g = Decimal("5")


class CycleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TreatmentCycle

    patient = factory.SubFactory(PatientFactory)
    protocol = factory.SubFactory(ProtocolFactory)
    number = factory.Sequence(lambda n: n + 1)
    route = "ivig"
    plan = TreatmentCycle.Plan.FROZEN_ET
    planned_event_on = TRANSFER_ON
    weight_kg = Decimal("60.0")
    weighed_on = TRANSFER_ON - dt.timedelta(days=10)


class InfusionFactory(factory.django.DjangoModelFactory):
    """An infusion whose patient has signed consent (the database insists)."""

    class Meta:
        model = Infusion

    cycle = factory.SubFactory(CycleFactory)
    given_on = TRANSFER_ON - dt.timedelta(days=7)
    route = "ivig"
    dose_g = Decimal("40")
    weight_kg = Decimal("60.0")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        cycle = kwargs["cycle"]
        if not cycle.patient.consents.exists():
            ConsentFactory(patient=cycle.patient, signed_on=min(ENROLLED_ON, kwargs["given_on"]))
        return super()._create(model_class, *args, **kwargs)


class TransferFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EmbryoTransfer

    cycle = factory.SubFactory(CycleFactory)
    transferred_on = TRANSFER_ON
    kind = EmbryoTransfer.Kind.FROZEN
    embryo_day = 5
    result = EmbryoTransfer.Result.CLINICAL


class PregnancyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Pregnancy

    transfer = factory.SubFactory(TransferFactory)
    cycle = factory.LazyAttribute(lambda o: o.transfer.cycle)
    patient = factory.LazyAttribute(lambda o: o.transfer.cycle.patient)
    conception = Pregnancy.Conception.IVF
    dating = Pregnancy.Dating.TRANSFER
    lmp_on = factory.LazyAttribute(
        lambda o: gestation.lmp_from_transfer(o.transfer.transferred_on, o.transfer.embryo_day)
    )
    confirmed_on = TRANSFER_ON + dt.timedelta(days=23)


class OutcomeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PregnancyOutcome

    pregnancy = factory.SubFactory(PregnancyFactory)
    kind = PregnancyOutcome.Kind.LIVE_BIRTH
    ended_on = factory.LazyAttribute(lambda o: o.pregnancy.lmp_on + dt.timedelta(days=39 * 7))
    delivery_mode = PregnancyOutcome.Delivery.VAGINAL


class InfantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Infant

    pregnancy = factory.SubFactory(PregnancyFactory)
    sex = Infant.Sex.FEMALE
    birth_weight_g = 3400


class VisitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FollowUpVisit

    pregnancy = factory.SubFactory(PregnancyFactory)
    kind = FollowUpVisit.Kind.ANTENATAL
    due_from = TRANSFER_ON + dt.timedelta(days=100)
    due_until = TRANSFER_ON + dt.timedelta(days=120)


class AdverseEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AdverseEvent

    patient = factory.SubFactory(PatientFactory)
    term = AdverseEvent.Term.HEADACHE
    grade = 1
    relatedness = AdverseEvent.Relatedness.PROBABLE
    onset_on = TRANSFER_ON


def make_user(username: str, *, role: str | None = None, sites=(), superuser=False):
    """A named member of the cast: staff at a site, an investigator, a researcher, an admin."""
    if role is None and not superuser:
        raise ValueError("give a role or superuser=True")
    if role and not Group.objects.filter(name=role).exists():
        roles.sync_groups()
    user = get_user_model().objects.create_user(
        username=username, password="pw-for-tests-only", is_staff=True, is_superuser=superuser
    )
    if role:
        user.groups.add(Group.objects.get(name=role))
    for site in sites:
        SiteMembership.objects.create(user=user, site=site)
    return user
