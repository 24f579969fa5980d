"""Dose arithmetic: grams, kilograms and milligrams per kilogram."""

from decimal import ROUND_HALF_UP, Decimal

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
