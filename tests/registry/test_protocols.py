"""Protocols are data: seed 000 is there from the start, the other published regimens load with
the demo, and a protocol that would plan the same day for ever is refused."""

import importlib
from io import StringIO

import pytest
from django.apps import apps as django_apps
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.forms import inlineformset_factory, modelform_factory

from registry.models import MaintenancePhase, Protocol
from registry.protocol_rules import SEED_000, ProtocolRules
from tests.factories import ProtocolFactory
from tests.registry import regimens

pytestmark = pytest.mark.django_db

PUBLISHED = {
    "positive-test-400": regimens.FROM_POSITIVE_TEST_400,
    "positive-test-500": regimens.FROM_POSITIVE_TEST_500,
    "step-down-400-200": regimens.STEP_DOWN_400_THEN_200,
    "preconception-200": regimens.BEFORE_CONCEPTION_200,
}


def rules_of(code: str) -> ProtocolRules:
    return ProtocolRules.from_protocol(Protocol.objects.get(code=code))


def test_the_seed_000_protocol_is_created_by_a_migration_with_the_seed_000_rules():
    # Read through the migration itself: a transactional test elsewhere may have flushed the
    # row the migration wrote when the test database was built.
    migration = importlib.import_module("registry.migrations.0004_seed_000_protocol")
    Protocol.objects.filter(code="seed-000").delete()
    migration.create_seed_000(django_apps, schema_editor=None)
    migration.create_seed_000(django_apps, schema_editor=None)  # twice: still one
    assert Protocol.objects.filter(code="seed-000").count() == 1
    assert rules_of("seed-000") == SEED_000


def test_the_published_regimens_load_as_protocols_with_their_phases(tmp_path, settings):
    settings.VAR_DIR = tmp_path
    call_command("load_demo", stdout=StringIO())
    for code, expected in PUBLISHED.items():
        assert rules_of(code) == expected, code
    phases = MaintenancePhase.objects.filter(protocol__code="step-down-400-200")
    assert list(phases.values_list("from_ga_days", "dose_mg_per_kg_min")) == [(0, 380), (91, 190)]


def test_loading_them_again_leaves_an_edited_protocol_as_it_is(tmp_path, settings):
    settings.VAR_DIR = tmp_path
    call_command("load_demo", stdout=StringIO())
    MaintenancePhase.objects.filter(protocol__code="step-down-400-200").delete()
    call_command("load_demo", stdout=StringIO())
    assert not MaintenancePhase.objects.filter(protocol__code="step-down-400-200").exists()


PROTOCOL_FIELDS = [
    "code",
    "name",
    "ivig_interval_days",
    "scig_interval_days",
    "visit_interval_days",
]


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("ivig_interval_days", "IVIg interval days must be at least 1 day."),
        ("scig_interval_days", "SCIg interval days must be at least 1 day."),
        ("visit_interval_days", "Visit interval days must be at least 1 day."),
    ],
)
def test_a_protocol_interval_of_zero_days_is_refused_naming_the_field(field, message):
    data = (
        {"code": "zero", "name": "Zero"} | dict.fromkeys(PROTOCOL_FIELDS[2:], "28") | {field: "0"}
    )
    form = modelform_factory(Protocol, fields=PROTOCOL_FIELDS)(data=data)
    assert not form.is_valid()
    assert message in str(form.errors)
    with transaction.atomic(), pytest.raises(IntegrityError, match=field.split("_")[0]):
        Protocol.objects.create(code="zero", name="Zero", **{field: 0})


def test_a_maintenance_phase_interval_of_zero_days_is_refused_naming_the_field():
    protocol = ProtocolFactory()
    Phases = inlineformset_factory(
        Protocol,
        MaintenancePhase,
        fields=[
            "from_ga_days",
            "until_ga_days",
            "dose_mg_per_kg_min",
            "dose_mg_per_kg_max",
            "interval_days",
        ],
    )
    formset = Phases(
        data={
            "maintenance_phases-TOTAL_FORMS": "1",
            "maintenance_phases-INITIAL_FORMS": "0",
            "maintenance_phases-0-from_ga_days": "0",
            "maintenance_phases-0-until_ga_days": "91",
            "maintenance_phases-0-dose_mg_per_kg_min": "400",
            "maintenance_phases-0-dose_mg_per_kg_max": "400",
            "maintenance_phases-0-interval_days": "0",
        },
        instance=protocol,
    )
    assert not formset.is_valid()
    assert "Interval days of a maintenance phase must be at least 1 day." in str(formset.errors)
    with transaction.atomic(), pytest.raises(IntegrityError, match="phase_interval_positive"):
        MaintenancePhase.objects.create(
            protocol=protocol,
            from_ga_days=0,
            until_ga_days=91,
            dose_mg_per_kg_min=400,
            dose_mg_per_kg_max=400,
            interval_days=0,
        )
