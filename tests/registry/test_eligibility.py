"""Eligibility under a protocol: every reason, in plain words; no database."""

from dataclasses import replace

from registry.eligibility import check_eligibility
from registry.protocol_rules import SEED_000


def check(rules=SEED_000, **changes):
    facts = {
        "age_years": 35,
        "unexplained_miscarriages": 5,
        "failed_good_blastocyst_transfers": 0,
        "conventional_treatment_failed": True,
        "ig_contraindication": False,
        "other_immunomodulator": False,
        "consent_signed": True,
    } | changes
    return check_eligibility(rules, **facts)


def test_a_patient_meeting_every_criterion_is_eligible_with_no_reasons():
    result = check()
    assert result.eligible
    assert result.reasons == []


def test_age_43_is_above_the_protocols_42():
    result = check(age_years=43)
    assert not result.eligible
    assert result.reasons == ["age 43 is above the protocol's 42"]


def test_age_17_is_below_the_protocols_18():
    assert check(age_years=17).reasons == ["age 17 is below the protocol's 18"]


def test_ages_18_and_42_are_both_inside():
    assert check(age_years=18).eligible
    assert check(age_years=42).eligible


def test_four_miscarriages_and_two_failed_transfers_are_not_enough():
    result = check(unexplained_miscarriages=4, failed_good_blastocyst_transfers=2)
    assert result.reasons == [
        "4 unexplained miscarriages and 2 failed good-quality blastocyst transfers; "
        "the protocol needs more than 4 miscarriages or more than 3 failed transfers"
    ]


def test_counts_of_one_are_written_in_the_singular():
    result = check(unexplained_miscarriages=1, failed_good_blastocyst_transfers=1)
    assert result.reasons[0].startswith(
        "1 unexplained miscarriage and 1 failed good-quality blastocyst transfer;"
    )


def test_either_history_criterion_alone_is_enough():
    assert check(unexplained_miscarriages=5, failed_good_blastocyst_transfers=0).eligible
    assert check(unexplained_miscarriages=0, failed_good_blastocyst_transfers=4).eligible


def test_exclusions_and_missing_consent_are_named():
    result = check(ig_contraindication=True, other_immunomodulator=True, consent_signed=False)
    assert result.reasons == [
        "contraindication to immunoglobulin",
        "receives another immunomodulatory treatment",
        "informed consent is not signed",
    ]


def test_conventional_treatment_must_have_failed_when_the_protocol_says_so():
    assert check(conventional_treatment_failed=False).reasons == [
        "conventional treatment has not failed"
    ]
    lenient = replace(SEED_000, requires_conventional_failure=False)
    assert check(lenient, conventional_treatment_failed=False).eligible


def test_every_failing_reason_is_listed_at_once():
    result = check(
        age_years=44,
        unexplained_miscarriages=2,
        failed_good_blastocyst_transfers=1,
        conventional_treatment_failed=False,
        ig_contraindication=True,
        other_immunomodulator=True,
        consent_signed=False,
    )
    assert not result.eligible
    assert len(result.reasons) == 6
    assert result.reasons[0] == "age 44 is above the protocol's 42"


def test_limits_come_from_the_protocol():
    stricter = replace(SEED_000, max_age_years=40, miscarriages_more_than=2)
    assert check(stricter, age_years=41, unexplained_miscarriages=3).reasons == [
        "age 41 is above the protocol's 40"
    ]
