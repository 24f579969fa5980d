"""analytics.queries.cohort_frames reads through COPY and CSV exactly the frames that
`CohortFrames.from_records` makes of the same rows as Python values (what psycopg hands over):
same dtypes, same values, Decimals with their scale, None for NULL, "" for an empty string."""

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest
from django.db import connection

from analytics.cohort import CohortFrames
from analytics.queries import cohort_frames
from tests.factories import (
    AdverseEventFactory,
    CycleFactory,
    ImmuneTestFactory,
    InfantFactory,
    InfusionFactory,
    OutcomeFactory,
    PatientFactory,
    PregnancyFactory,
    ProtocolFactory,
    TransferFactory,
)

pytestmark = pytest.mark.django_db

FEB_17 = dt.date(2025, 2, 17)
FEB_24 = dt.date(2025, 2, 24)
MAR_3 = dt.date(2025, 3, 3)
JUL_1 = dt.date(2025, 7, 1)


@pytest.fixture
def cohort(site_a, site_b):
    """Alice, treated at MTL, every column filled; Beth, screened at CPH, every column that can
    be missing missing, and an adverse event whose term is an empty string."""
    alice = PatientFactory(site=site_a, status="completed")
    ImmuneTestFactory(patient=alice, value=None, tested_on=dt.date(2024, 12, 1))
    ImmuneTestFactory(patient=alice, value=Decimal("13.5"), tested_on=dt.date(2025, 1, 6))
    ImmuneTestFactory(patient=alice, value=Decimal("9.25"), tested_on=dt.date(2025, 5, 1))
    first = CycleFactory(patient=alice, number=1, planned_event_on=MAR_3)
    second = CycleFactory(
        patient=alice, number=2, planned_event_on=JUL_1, protocol=ProtocolFactory(code="seed-002")
    )
    InfusionFactory(cycle=first, route="scig", given_on=FEB_17, dose_g=Decimal("10"))
    ivig = InfusionFactory(
        cycle=first, given_on=FEB_24, dose_g=Decimal("42.5"), weight_kg=Decimal("61.3")
    )
    InfusionFactory(cycle=second, given_on=JUL_1 - dt.timedelta(days=7))
    failed = TransferFactory(cycle=first, transferred_on=MAR_3, result="negative")
    transfer = TransferFactory(cycle=second, transferred_on=JUL_1, result="clinical")
    outcome = OutcomeFactory(
        pregnancy__transfer=transfer,
        pregnancy__fetuses=2,
        pregnancy__confirmed_on=JUL_1 + dt.timedelta(days=23),
    )
    twin = InfantFactory(pregnancy=outcome.pregnancy, birth_order=1, birth_weight_g=2510)
    InfantFactory(pregnancy=outcome.pregnancy, birth_order=2, birth_weight_g=2480, live_born=False)
    AdverseEventFactory(patient=alice, infusion=ivig, grade=3, serious=True)

    beth = PatientFactory(site=site_b, status="screening", enrolled_on=None)
    natural = PregnancyFactory(
        patient=beth,
        transfer=None,
        cycle=None,
        conception="natural",
        dating="lmp",
        lmp_on=dt.date(2025, 4, 7),
        confirmed_on=dt.date(2025, 5, 12),
    )
    AdverseEventFactory(patient=beth, term="")
    return {
        "alice": alice,
        "beth": beth,
        "failed": failed,
        "transfer": transfer,
        "pregnancy": outcome.pregnancy,
        "natural": natural,
        "twin": twin,
    }


def expected(cohort) -> CohortFrames:
    alice, beth = cohort["alice"].pk, cohort["beth"].pk
    pregnancy, lmp_on = cohort["pregnancy"], cohort["pregnancy"].lmp_on
    return CohortFrames.from_records(
        patients=[
            {
                "patient_id": alice,
                "site_code": "MTL",
                "indication": "rpl",
                "status": "completed",
                "enrolled_on": dt.date(2025, 1, 6),
                "protocol_code": "seed-000",
                "infusions": 3,
                "infusions_ivig": 2,
                "infusions_scig": 1,
                "first_infusion_on": FEB_17,
                "first_ivig_dose_g": Decimal("42.50"),
                "first_ivig_weight_kg": Decimal("61.3"),
                "nk_percent": 13.5,
            },
            {
                "patient_id": beth,
                "site_code": "CPH",
                "indication": "rpl",
                "status": "screening",
                "enrolled_on": None,
                "protocol_code": None,
                "infusions": 0,
                "infusions_ivig": 0,
                "infusions_scig": 0,
                "first_infusion_on": None,
                "first_ivig_dose_g": None,
                "first_ivig_weight_kg": None,
                "nk_percent": None,
            },
        ],
        transfers=[
            {
                "transfer_id": cohort["failed"].pk,
                "patient_id": alice,
                "transferred_on": MAR_3,
                "result": "negative",
            },
            {
                "transfer_id": cohort["transfer"].pk,
                "patient_id": alice,
                "transferred_on": JUL_1,
                "result": "clinical",
            },
        ],
        pregnancies=[
            {
                "pregnancy_id": pregnancy.pk,
                "patient_id": alice,
                "transfer_id": cohort["transfer"].pk,
                "lmp_on": lmp_on,
                "fetuses": 2,
                "outcome_kind": "live_birth",
                "ended_on": lmp_on + dt.timedelta(days=39 * 7),
            },
            {
                "pregnancy_id": cohort["natural"].pk,
                "patient_id": beth,
                "transfer_id": None,
                "lmp_on": dt.date(2025, 4, 7),
                "fetuses": 1,
                "outcome_kind": None,
                "ended_on": None,
            },
        ],
        infants=[
            {"pregnancy_id": pregnancy.pk, "birth_weight_g": 2480, "live_born": False},
            {"pregnancy_id": pregnancy.pk, "birth_weight_g": 2510, "live_born": True},
        ],
        adverse_events=[
            {
                "patient_id": alice,
                "term": "headache",
                "grade": 3,
                "serious": True,
                "infusion_route": "ivig",
            },
            {"patient_id": beth, "term": "", "grade": 1, "serious": False, "infusion_route": None},
        ],
    )


# Row order is the database's; these sort both sides the same way.
ORDER = {
    "patients": ["patient_id"],
    "transfers": ["transfer_id"],
    "pregnancies": ["pregnancy_id"],
    "infants": ["pregnancy_id", "birth_weight_g"],
    "adverse_events": ["patient_id"],
}


def assert_same_frames(read: CohortFrames, wanted: CohortFrames):
    for name, order in ORDER.items():
        pd.testing.assert_frame_equal(
            getattr(read, name).sort_values(order).reset_index(drop=True),
            getattr(wanted, name).sort_values(order).reset_index(drop=True),
            check_exact=True,
            obj=name,
        )


def test_the_frames_read_are_the_frames_of_the_same_rows(cohort):
    assert_same_frames(cohort_frames(), expected(cohort))


def test_decimals_stay_decimals_with_their_scale_and_missing_values_are_none(cohort):
    patients = cohort_frames().patients.set_index("patient_id")
    alice, beth = patients.loc[cohort["alice"].pk], patients.loc[cohort["beth"].pk]
    assert [repr(alice["first_ivig_dose_g"]), repr(alice["first_ivig_weight_kg"])] == [
        "Decimal('42.50')",
        "Decimal('61.3')",
    ]
    assert [beth["first_ivig_dose_g"], beth["protocol_code"]] == [None, None]


def test_an_empty_string_is_not_read_as_missing(cohort):
    events = cohort_frames().adverse_events.set_index("patient_id")
    assert events.loc[cohort["beth"].pk, "term"] == ""
    assert events.loc[cohort["beth"].pk, "infusion_route"] is None


def test_dates_read_the_same_whatever_the_servers_date_style(cohort):
    with connection.cursor() as cursor:
        # Undone with the test's transaction.
        cursor.execute("SET DateStyle = 'SQL, DMY'")
    assert_same_frames(cohort_frames(), expected(cohort))


def test_a_site_filter_binds_its_codes_into_every_copy(cohort):
    frames = cohort_frames(site_codes=["CPH"])
    wanted = expected(cohort)
    beth = cohort["beth"].pk
    assert frames.patients["patient_id"].tolist() == [beth]
    assert frames.transfers.empty and frames.infants.empty
    assert frames.pregnancies["patient_id"].tolist() == [beth]
    assert frames.adverse_events["patient_id"].tolist() == [beth]
    assert list(frames.patients.dtypes) == list(wanted.patients.dtypes)
