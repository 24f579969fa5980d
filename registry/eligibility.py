"""Whether a patient may enter a protocol, with every reason she may not, in plain words."""

from dataclasses import dataclass, field

from registry.protocol_rules import ProtocolRules


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    reasons: list[str] = field(default_factory=list)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def check_eligibility(
    rules: ProtocolRules,
    *,
    age_years: int,
    unexplained_miscarriages: int,
    failed_good_blastocyst_transfers: int,
    conventional_treatment_failed: bool,
    ig_contraindication: bool,
    other_immunomodulator: bool,
    consent_signed: bool,
) -> Eligibility:
    """Every inclusion and exclusion criterion is checked, so screening sees all reasons at once.

    Age is completed years on the screening date (registry.age.age_years).
    """
    reasons = []
    if age_years < rules.min_age_years:
        reasons.append(f"age {age_years} is below the protocol's {rules.min_age_years}")
    if age_years > rules.max_age_years:
        reasons.append(f"age {age_years} is above the protocol's {rules.max_age_years}")
    # The history criterion is one "or": either count alone is enough.
    if not (
        unexplained_miscarriages > rules.miscarriages_more_than
        or failed_good_blastocyst_transfers > rules.failed_transfers_more_than
    ):
        history = (
            f"{_count(unexplained_miscarriages, 'unexplained miscarriage')} and "
            f"{_count(failed_good_blastocyst_transfers, 'failed good-quality blastocyst transfer')}"
        )
        needed = (
            f"more than {_count(rules.miscarriages_more_than, 'miscarriage')} or more than "
            f"{_count(rules.failed_transfers_more_than, 'failed transfer')}"
        )
        reasons.append(f"{history}; the protocol needs {needed}")
    if rules.requires_conventional_failure and not conventional_treatment_failed:
        reasons.append("conventional treatment has not failed")
    if ig_contraindication:
        reasons.append("contraindication to immunoglobulin")
    if other_immunomodulator:
        reasons.append("receives another immunomodulatory treatment")
    if not consent_signed:
        reasons.append("informed consent is not signed")
    return Eligibility(eligible=not reasons, reasons=reasons)
