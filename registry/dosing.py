"""Dose arithmetic: grams, kilograms and milligrams per kilogram.

Planning a dose is a pure function of the weight, the protocol's mg/kg range and the product's
vial step; it returns grams or refuses with the reason. It never saves anything.
"""

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

# Plausibility limits: outside them a value is a typing error, not a clinical choice.
WEIGHT_KG_MIN = Decimal("30")
WEIGHT_KG_MAX = Decimal("250")
DOSE_G_MIN = Decimal("1")
DOSE_G_MAX = Decimal("200")
DOSE_MG_PER_KG_MIN = Decimal("50")
DOSE_MG_PER_KG_MAX = Decimal("2000")


def dose_mg_per_kg(dose_g: Decimal, weight_kg: Decimal) -> Decimal:
    """Milligrams of immunoglobulin per kilogram of body weight, to one decimal."""
    if weight_kg <= 0:
        raise ValueError("weight_kg must be positive")
    return (Decimal(dose_g) * 1000 / Decimal(weight_kg)).quantize(
        Decimal("0.1"), rounding=ROUND_HALF_UP
    )


class DoseRefused(ValueError):
    """No dose in whole vial steps fits the protocol; the message says why, in plain words."""


def plain_number(value: Decimal | int) -> str:
    """A number as a person writes it: 36, 21.6, 2.5 (no trailing zeros, no exponent)."""
    return f"{Decimal(value).normalize():f}"


def plain_g(value: Decimal) -> str:
    """Grams to one decimal at most, for messages: 21.6, 28.8, 40."""
    return plain_number(Decimal(value).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def plain_mg_per_kg_range(low: Decimal | int, high: Decimal | int) -> str:
    """For messages: 600-800 mg/kg; one decimal keeps an SCIg share such as 266.67 readable."""
    return f"{plain_g(low)}-{plain_g(high)} mg/kg"


def dose_g_range(
    *, weight_kg: Decimal, mg_per_kg_min: Decimal | int, mg_per_kg_max: Decimal | int
) -> tuple[Decimal, Decimal]:
    """The grams a weight may receive at a mg/kg range, unrounded."""
    weight_kg = Decimal(weight_kg)
    return weight_kg * Decimal(mg_per_kg_min) / 1000, weight_kg * Decimal(mg_per_kg_max) / 1000


def plan_dose_g(
    *,
    weight_kg: Decimal,
    mg_per_kg_min: Decimal | int,
    mg_per_kg_max: Decimal | int,
    vial_step_g: Decimal,
) -> Decimal:
    """Grams for one dose: the middle of the mg/kg range, in whole vial steps, inside the range.

    The target is the midpoint, so rounding either way by half a step stays as near the
    intended dose as the vials allow; only when that rounding leaves the range is the nearest
    step inside it taken. A range too narrow to hold any multiple of the step is refused rather
    than over- or under-dosed.
    """
    weight_kg, vial_step_g = Decimal(weight_kg), Decimal(vial_step_g)
    if weight_kg <= 0:
        raise ValueError("weight_kg must be positive")
    if vial_step_g <= 0:
        raise ValueError("vial_step_g must be positive")
    if Decimal(mg_per_kg_min) > Decimal(mg_per_kg_max):
        raise ValueError("mg_per_kg_min must not be above mg_per_kg_max")
    low_g, high_g = dose_g_range(
        weight_kg=weight_kg, mg_per_kg_min=mg_per_kg_min, mg_per_kg_max=mg_per_kg_max
    )
    target_g = (low_g + high_g) / 2
    fewest_steps = (low_g / vial_step_g).to_integral_value(rounding=ROUND_CEILING)
    most_steps = (high_g / vial_step_g).to_integral_value(rounding=ROUND_FLOOR)
    if fewest_steps > most_steps:
        raise DoseRefused(
            f"no multiple of {plain_number(vial_step_g)} g lies in "
            f"{plain_g(low_g)}-{plain_g(high_g)} g ({plain_number(weight_kg)} kg at "
            f"{plain_mg_per_kg_range(mg_per_kg_min, mg_per_kg_max)})"
        )
    steps = (target_g / vial_step_g).to_integral_value(rounding=ROUND_HALF_UP)
    dose_g = min(max(steps, fewest_steps), most_steps) * vial_step_g
    if not DOSE_G_MIN <= dose_g <= DOSE_G_MAX:
        raise DoseRefused(
            f"{plain_number(dose_g)} g ({plain_number(weight_kg)} kg at "
            f"{plain_mg_per_kg_range(mg_per_kg_min, mg_per_kg_max)}) is outside the plausible "
            f"{plain_number(DOSE_G_MIN)}-{plain_number(DOSE_G_MAX)} g for one dose"
        )
    return dose_g


def scig_share(
    *, conversion_factor: Decimal, interval_days_ivig: int, scig_interval_days: int
) -> Decimal:
    """The fraction of one IVIg dose that one SCIg dose replaces.

    Over one IVIg interval the patient receives the IVIg dose times the conversion factor
    (1.00 in seed 000, "equivalent doses"; some labels ask 1.37), split evenly over the SCIg
    doses that fit in the interval: 28-day IVIg as weekly SCIg at factor 1 is a quarter.
    """
    if interval_days_ivig <= 0 or scig_interval_days <= 0:
        raise ValueError("intervals must be positive")
    return Decimal(conversion_factor) * scig_interval_days / interval_days_ivig


def scig_weekly_dose_g(
    *,
    monthly_ivig_dose_g: Decimal,
    conversion_factor: Decimal,
    interval_days_ivig: int = 28,
    scig_interval_days: int = 7,
    vial_step_g: Decimal,
) -> Decimal:
    """The SCIg dose that replaces an IVIg dose: IVIg grams x factor, split over the weeks.

    Used when a patient switches from IVIg to SCIg and her IVIg grams are what is known. It
    rounds to the nearest multiple of the SCIg product's step (halves up), and refuses when that
    is no vial at all. Planning from a weight (schedule.plan_cycle) goes through plan_dose_g
    with the mg/kg range times the same scig_share, which also keeps the dose inside the range.
    """
    vial_step_g = Decimal(vial_step_g)
    if vial_step_g <= 0:
        raise ValueError("vial_step_g must be positive")
    share = scig_share(
        conversion_factor=conversion_factor,
        interval_days_ivig=interval_days_ivig,
        scig_interval_days=scig_interval_days,
    )
    exact_g = Decimal(monthly_ivig_dose_g) * share
    steps = (exact_g / vial_step_g).to_integral_value(rounding=ROUND_HALF_UP)
    if steps < 1:
        raise DoseRefused(
            f"an SCIg dose of {plain_g(exact_g)} g is less than half of one "
            f"{plain_number(vial_step_g)} g step"
        )
    return steps * vial_step_g
