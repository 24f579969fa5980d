"""The published regimens (seed 003, and the Korean guideline quoted in seed 000) as protocols.

They prove that protocols are data: each is seed 000 with other parameters, nothing in code. A
single published figure ("400 mg/kg") becomes a band of plus or minus 5 %, because whole vials
can only meet a band; a protocol row stores the band the clinic accepts.
"""

from dataclasses import replace

from registry.protocol_rules import (
    ANCHOR_CONCEPTION,
    ANCHOR_POSITIVE_TEST,
    SEED_000,
    PhaseRules,
)

WEEK = 7

# Ahmadi: 400 mg/kg from a positive pregnancy test, every 4 weeks, until 30-32 weeks.
FROM_POSITIVE_TEST_400 = replace(
    SEED_000,
    induction_anchor=ANCHOR_POSITIVE_TEST,
    dose_mg_per_kg_min=380,
    dose_mg_per_kg_max=420,
    ivig_interval_days=4 * WEEK,
    maintenance_until_ga_days=30 * WEEK,
    stop_ga_days=32 * WEEK,
)

# Mahmoud, Perricone: 500 mg/kg every 3-4 weeks until 33-34 weeks.
FROM_POSITIVE_TEST_500 = replace(
    FROM_POSITIVE_TEST_400,
    dose_mg_per_kg_min=475,
    dose_mg_per_kg_max=525,
    maintenance_until_ga_days=33 * WEEK,
    stop_ga_days=34 * WEEK,
)

# Moraru, Ramos-Medina: 400 mg/kg every 3-4 weeks until 13 weeks, then 200 mg/kg until 35 weeks.
STEP_DOWN_400_THEN_200 = replace(
    FROM_POSITIVE_TEST_400,
    maintenance_until_ga_days=35 * WEEK,
    stop_ga_days=35 * WEEK,
    maintenance_phases=(
        PhaseRules(
            from_ga_days=0,
            until_ga_days=13 * WEEK,
            dose_mg_per_kg_min=380,
            dose_mg_per_kg_max=420,
            interval_days=4 * WEEK,
        ),
        PhaseRules(
            from_ga_days=13 * WEEK,
            until_ga_days=35 * WEEK,
            dose_mg_per_kg_min=190,
            dose_mg_per_kg_max=210,
            interval_days=4 * WEEK,
        ),
    ),
)

# Stricker: 200 mg/kg two weeks before planned conception, then every 4 weeks until 26-30 weeks.
BEFORE_CONCEPTION_200 = replace(
    SEED_000,
    induction_anchor=ANCHOR_CONCEPTION,
    conception_lead_days=2 * WEEK,
    dose_mg_per_kg_min=190,
    dose_mg_per_kg_max=210,
    ivig_interval_days=4 * WEEK,
    maintenance_until_ga_days=26 * WEEK,
    stop_ga_days=30 * WEEK,
)

ALL = {
    "seed 000": SEED_000,
    "400 mg/kg from a positive test": FROM_POSITIVE_TEST_400,
    "500 mg/kg from a positive test": FROM_POSITIVE_TEST_500,
    "400 then 200 mg/kg": STEP_DOWN_400_THEN_200,
    "200 mg/kg before conception": BEFORE_CONCEPTION_200,
}
