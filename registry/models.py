"""Who the patient is and what she receives.

Invariants live here as database constraints as well as in forms, so no write path (admin, API,
import, raw SQL) can break them. Rules that span tables (consent before the first dose) are
PostgreSQL triggers, installed by migration 0002.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q

from registry import dosing, study_ids
from registry.audit import audited

SITE_CODE_REGEX = r"^[A-Z]{2,6}$"


class Route(models.TextChoices):
    IVIG = "ivig", "IVIg (intravenous)"
    SCIG = "scig", "SCIg (subcutaneous)"


@audited()
class Site(models.Model):
    code = models.CharField(
        max_length=6,
        unique=True,
        validators=[RegexValidator(SITE_CODE_REGEX, "2 to 6 capital letters, e.g. MTL")],
        help_text="Short code used in study IDs, e.g. MTL.",
    )
    name = models.CharField(max_length=200)
    time_zone = models.CharField(max_length=64, default="America/Toronto")

    class Meta:
        ordering = ["code"]
        permissions = [("view_all_sites", "Can see every site's (de-identified) patients")]
        constraints = [
            models.CheckConstraint(
                condition=Q(code__regex=SITE_CODE_REGEX),
                name="site_code_format",
                violation_error_message="Code must be 2 to 6 capital letters, e.g. MTL.",
            ),
        ]

    def __str__(self):
        return f"{self.code} · {self.name}"


class SiteMembership(models.Model):
    """The sites a user works at; clinic staff and investigators see only these."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="site_memberships"
    )
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="memberships")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "site"], name="one_membership_per_site"),
        ]

    def __str__(self):
        return f"{self.user} at {self.site.code}"


# The fields that identify a person. Hidden from anyone without registry.view_identifiers,
# in forms, list columns, search and the audit trail alike.
IDENTIFIER_FIELDS = (
    "given_name",
    "family_name",
    "mrn",
    "date_of_birth",
    "email",
    "phone",
    "address",
)


@audited()
class Patient(models.Model):
    class Indication(models.TextChoices):
        RPL = "rpl", "Recurrent pregnancy loss"
        RIF = "rif", "Recurrent implantation failure"
        BOTH = "both", "Both RPL and RIF"

    class Status(models.TextChoices):
        SCREENING = "screening", "Screening"
        ENROLLED = "enrolled", "Enrolled"
        WITHDRAWN = "withdrawn", "Withdrawn"
        COMPLETED = "completed", "Completed"
        LOST = "lost", "Lost to follow-up"

    study_id = models.CharField(
        max_length=16,
        unique=True,
        editable=False,
        help_text="Random; never derived from the MRN, name or date of birth.",
    )
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="patients")

    # Identifiers
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    mrn = models.CharField("MRN", max_length=40, help_text="Medical record number at the site.")
    date_of_birth = models.DateField()
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    address = models.TextField(blank=True)

    # Clinical
    indication = models.CharField(max_length=4, choices=Indication.choices)
    unexplained_miscarriages = models.PositiveSmallIntegerField(default=0)
    failed_good_blastocyst_transfers = models.PositiveSmallIntegerField(
        default=0, help_text="Unexplained failed transfers of good-quality blastocysts."
    )
    prior_live_births = models.PositiveSmallIntegerField(default=0)
    prior_stillbirths = models.PositiveSmallIntegerField(default=0)
    prior_late_losses = models.PositiveSmallIntegerField(
        default=0, help_text="Second-trimester losses."
    )
    conventional_treatment_failed = models.BooleanField(default=False)
    comorbidities = models.TextField(blank=True)
    ig_contraindication = models.BooleanField("contraindication to immunoglobulin", default=False)
    other_immunomodulator = models.BooleanField(
        "receives another immunomodulatory treatment", default=False
    )

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCREENING)
    screened_on = models.DateField()
    enrolled_on = models.DateField(null=True, blank=True)
    status_changed_on = models.DateField(null=True, blank=True)
    status_reason = models.CharField(max_length=300, blank=True)
    # Enrolling a patient who is not eligible is a decision someone takes and answers for.
    eligibility_override_reason = models.CharField(
        max_length=300,
        blank=True,
        help_text="Required to enrol a patient who is not eligible under her protocol; "
        "recorded with your name and the time.",
    )
    eligibility_overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    eligibility_overridden_at = models.DateTimeField(null=True, blank=True, editable=False)

    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["study_id"]
        permissions = [
            ("view_identifiers", "Can view patient identifiers (name, MRN, birth date, contact)"),
            ("export_identified", "Can export identified data"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["site", "mrn"], name="one_patient_per_site_mrn"),
            models.CheckConstraint(
                condition=Q(study_id__regex=study_ids.PATTERN),
                name="patient_study_id_format",
                violation_error_message="Study ID must be the site code, a dash and 4-8 random characters.",
            ),
            models.CheckConstraint(
                condition=Q(enrolled_on__isnull=True) | Q(enrolled_on__gte=F("screened_on")),
                name="patient_enrolled_after_screening",
                violation_error_message="Enrolled on must be on or after screened on.",
            ),
            models.CheckConstraint(
                condition=Q(screened_on__gt=F("date_of_birth")),
                name="patient_screened_after_birth",
                violation_error_message="Screened on must be after the date of birth.",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["enrolled", "completed"]) | Q(enrolled_on__isnull=False),
                name="patient_enrolled_has_date",
                violation_error_message="Enrolled on is required when the status is enrolled or completed.",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["withdrawn", "lost"]) | ~Q(status_reason=""),
                name="patient_withdrawal_has_reason",
                violation_error_message="Status reason is required when a patient is withdrawn or lost to follow-up.",
            ),
            models.CheckConstraint(
                condition=(
                    Q(eligibility_override_reason="") & Q(eligibility_overridden_at__isnull=True)
                )
                | (~Q(eligibility_override_reason="") & Q(eligibility_overridden_at__isnull=False)),
                name="patient_override_recorded",
                violation_error_message="Eligibility override reason and the time it was recorded go together.",
            ),
        ]

    def __str__(self):
        return self.study_id


@audited()
class Consent(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="consents")
    version = models.CharField(max_length=40, help_text="Version of the consent form signed.")
    signed_on = models.DateField()
    withdrawn_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["signed_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(withdrawn_on__isnull=True) | Q(withdrawn_on__gte=F("signed_on")),
                name="consent_withdrawn_after_signed",
                violation_error_message="Withdrawn on must be on or after signed on.",
            ),
        ]

    def __str__(self):
        return f"consent {self.version} signed {self.signed_on}"


@audited()
class ImmuneTest(models.Model):
    class Analyte(models.TextChoices):
        NK_PERCENT = "nk_percent", "NK cells (% of lymphocytes)"
        NK_CYTOTOXICITY = "nk_cytotoxicity", "NK cytotoxicity"
        TH1_TH2 = "th1_th2_ratio", "Th1/Th2 ratio"
        ANTIPHOSPHOLIPID = "antiphospholipid", "Antiphospholipid antibodies"
        ANA = "ana", "Antinuclear antibodies"
        ANTITHYROID = "antithyroid", "Anti-thyroid antibodies"
        OTHER = "other", "Other"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="immune_tests")
    analyte = models.CharField(max_length=20, choices=Analyte.choices)
    value = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True)
    unit = models.CharField(max_length=20, blank=True)
    tested_on = models.DateField()
    abnormal = models.BooleanField(default=False)

    class Meta:
        ordering = ["tested_on"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(analyte="nk_percent")
                | (Q(value__gte=0) & Q(value__lte=100) & Q(unit="%")),
                name="immunetest_nk_percent_range",
                violation_error_message="An NK cell result must be a percentage: value 0-100 with unit %%.",
            ),
        ]

    def __str__(self):
        return f"{self.get_analyte_display()} on {self.tested_on}"


@audited()
class Product(models.Model):
    """An immunoglobulin product and the smallest step its vials allow."""

    name = models.CharField(max_length=100, unique=True)
    route = models.CharField(max_length=4, choices=Route.choices)
    vial_step_g = models.DecimalField(
        max_digits=5, decimal_places=2, help_text="Doses are rounded to multiples of this."
    )

    class Meta:
        ordering = ["route", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(vial_step_g__gt=0),
                name="product_step_positive",
                violation_error_message="Vial step (g) must be more than 0.",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.get_route_display()}, {self.vial_step_g} g step)"


@audited()
class Protocol(models.Model):
    """A treatment protocol as data: every rule reads its parameters from this row."""

    class Anchor(models.TextChoices):
        TRANSFER = "transfer", "Embryo transfer"
        CONCEPTION = "conception", "Planned conception"
        POSITIVE_TEST = "positive_test", "Positive pregnancy test"

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    source = models.CharField(max_length=300, blank=True, help_text="Publication or guideline.")

    min_age_years = models.PositiveSmallIntegerField(default=18)
    max_age_years = models.PositiveSmallIntegerField(default=42)
    miscarriages_more_than = models.PositiveSmallIntegerField(
        default=4, help_text="Eligible with more than this many unexplained miscarriages..."
    )
    failed_transfers_more_than = models.PositiveSmallIntegerField(
        default=3, help_text="...or more than this many failed good-quality blastocyst transfers."
    )
    requires_conventional_failure = models.BooleanField(default=True)

    induction_anchor = models.CharField(
        max_length=14, choices=Anchor.choices, default=Anchor.TRANSFER
    )
    induction_days_before_min = models.PositiveSmallIntegerField(default=5)
    induction_days_before_max = models.PositiveSmallIntegerField(default=10)
    conception_lead_days = models.PositiveSmallIntegerField(
        default=30, help_text="Induction this many days before a planned natural conception."
    )
    scig_lead_days = models.PositiveSmallIntegerField(
        default=28, help_text="SCIg starts this many days before the transfer or conception."
    )
    dose_mg_per_kg_min = models.PositiveSmallIntegerField(default=600)
    dose_mg_per_kg_max = models.PositiveSmallIntegerField(default=800)
    ivig_interval_days = models.PositiveSmallIntegerField(default=28)
    scig_interval_days = models.PositiveSmallIntegerField(default=7)
    maintenance_until_ga_days = models.PositiveSmallIntegerField(
        default=32 * 7, help_text="Maintenance is planned up to this gestational age (days)."
    )
    stop_ga_days = models.PositiveSmallIntegerField(
        default=34 * 7, help_text="No dose at or after this gestational age (days)."
    )
    scig_conversion_factor = models.DecimalField(
        max_digits=4, decimal_places=2, default=Decimal("1.00")
    )
    visit_interval_days = models.PositiveSmallIntegerField(default=91)
    postpartum_visit_days = models.PositiveSmallIntegerField(default=30)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(max_age_years__gte=F("min_age_years")),
                name="protocol_age_range",
                violation_error_message="Maximum age must be at least the minimum age.",
            ),
            models.CheckConstraint(
                condition=Q(induction_days_before_max__gte=F("induction_days_before_min")),
                name="protocol_induction_window",
                violation_error_message="Induction window: the earliest day before must be at least the latest.",
            ),
            models.CheckConstraint(
                condition=Q(dose_mg_per_kg_min__gt=0)
                & Q(dose_mg_per_kg_max__gte=F("dose_mg_per_kg_min")),
                name="protocol_dose_range",
                violation_error_message="Dose range: mg/kg minimum must be above 0 and not above the maximum.",
            ),
            models.CheckConstraint(
                condition=Q(stop_ga_days__gte=F("maintenance_until_ga_days")),
                name="protocol_stop_after_maintenance",
                violation_error_message="Stop gestational age must be at or after the end of maintenance.",
            ),
            models.CheckConstraint(
                condition=Q(scig_conversion_factor__gt=0),
                name="protocol_scig_factor_positive",
                violation_error_message="SCIg conversion factor must be more than 0.",
            ),
            # A zero interval would plan the same day for ever (ProtocolRules refuses it too).
            models.CheckConstraint(
                condition=Q(ivig_interval_days__gte=1),
                name="protocol_ivig_interval_positive",
                violation_error_message="IVIg interval days must be at least 1 day.",
            ),
            models.CheckConstraint(
                condition=Q(scig_interval_days__gte=1),
                name="protocol_scig_interval_positive",
                violation_error_message="SCIg interval days must be at least 1 day.",
            ),
            models.CheckConstraint(
                condition=Q(visit_interval_days__gte=1),
                name="protocol_visit_interval_positive",
                violation_error_message="Visit interval days must be at least 1 day.",
            ),
        ]

    def __str__(self):
        return self.name


@audited()
class MaintenancePhase(models.Model):
    """A stretch of pregnancy with its own dose, for regimens that step down (400 then 200)."""

    protocol = models.ForeignKey(
        Protocol, on_delete=models.CASCADE, related_name="maintenance_phases"
    )
    from_ga_days = models.PositiveSmallIntegerField()
    until_ga_days = models.PositiveSmallIntegerField()
    dose_mg_per_kg_min = models.PositiveSmallIntegerField()
    dose_mg_per_kg_max = models.PositiveSmallIntegerField()
    interval_days = models.PositiveSmallIntegerField(default=28)

    class Meta:
        ordering = ["protocol", "from_ga_days"]
        constraints = [
            models.CheckConstraint(
                condition=Q(until_ga_days__gt=F("from_ga_days")),
                name="phase_ga_order",
                violation_error_message="A maintenance phase must end after it starts.",
            ),
            models.CheckConstraint(
                condition=Q(dose_mg_per_kg_max__gte=F("dose_mg_per_kg_min")),
                name="phase_dose_range",
                violation_error_message="Phase dose: mg/kg maximum must not be below the minimum.",
            ),
            models.CheckConstraint(
                condition=Q(interval_days__gte=1),
                name="phase_interval_positive",
                violation_error_message="Interval days of a maintenance phase must be at least 1 day.",
            ),
        ]

    def __str__(self):
        return f"{self.dose_mg_per_kg_min}-{self.dose_mg_per_kg_max} mg/kg"


def _plausible_weight(field: str) -> Q:
    return Q(**{f"{field}__gte": dosing.WEIGHT_KG_MIN, f"{field}__lte": dosing.WEIGHT_KG_MAX})


@audited()
class TreatmentCycle(models.Model):
    """One attempt under a protocol: the doses before and during one transfer or conception."""

    class Plan(models.TextChoices):
        FRESH_ET = "fresh_et", "Fresh embryo transfer"
        FROZEN_ET = "frozen_et", "Frozen embryo transfer"
        NATURAL = "natural", "Natural conception"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="cycles")
    protocol = models.ForeignKey(Protocol, on_delete=models.PROTECT, related_name="cycles")
    number = models.PositiveSmallIntegerField(help_text="1 for the patient's first cycle.")
    route = models.CharField(max_length=4, choices=Route.choices, default=Route.IVIG)
    plan = models.CharField(max_length=10, choices=Plan.choices)
    planned_event_on = models.DateField(
        "planned transfer or conception date",
        help_text="The planned embryo transfer, or the planned natural conception.",
    )
    weight_kg = models.DecimalField(
        "weight at planning (kg)",
        max_digits=5,
        decimal_places=1,
        validators=[
            MinValueValidator(dosing.WEIGHT_KG_MIN),
            MaxValueValidator(dosing.WEIGHT_KG_MAX),
        ],
    )
    weighed_on = models.DateField()

    class Meta:
        ordering = ["patient", "number"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "number"], name="one_cycle_number"),
            models.CheckConstraint(
                condition=Q(number__gte=1),
                name="cycle_number_positive",
                violation_error_message="Cycle number starts at 1.",
            ),
            models.CheckConstraint(
                condition=_plausible_weight("weight_kg"),
                name="cycle_weight_plausible",
                violation_error_message="Weight at planning (kg) must be between 30 and 250 kg.",
            ),
        ]

    def __str__(self):
        return f"{self.patient_id and self.patient.study_id} cycle {self.number}"


@audited()
class PlannedDose(models.Model):
    class Phase(models.TextChoices):
        INDUCTION = "induction", "Induction"
        MAINTENANCE = "maintenance", "Maintenance"

    cycle = models.ForeignKey(TreatmentCycle, on_delete=models.CASCADE, related_name="planned")
    sequence = models.PositiveSmallIntegerField()
    phase = models.CharField(max_length=11, choices=Phase.choices)
    route = models.CharField(max_length=4, choices=Route.choices)
    due_from = models.DateField()
    due_until = models.DateField()
    dose_g = models.DecimalField(max_digits=6, decimal_places=2)

    class Meta:
        ordering = ["cycle", "due_from"]
        constraints = [
            models.UniqueConstraint(fields=["cycle", "sequence"], name="one_planned_sequence"),
            models.CheckConstraint(
                condition=Q(due_until__gte=F("due_from")),
                name="planned_window_order",
                violation_error_message="Due until must be on or after due from.",
            ),
            models.CheckConstraint(
                condition=Q(dose_g__gte=dosing.DOSE_G_MIN, dose_g__lte=dosing.DOSE_G_MAX),
                name="planned_dose_plausible",
                violation_error_message="Dose (g) must be between 1 and 200 g.",
            ),
        ]

    def __str__(self):
        return f"{self.get_phase_display()} {self.dose_g} g due {self.due_from}-{self.due_until}"


@audited()
class Infusion(models.Model):
    cycle = models.ForeignKey(TreatmentCycle, on_delete=models.CASCADE, related_name="infusions")
    planned_dose = models.ForeignKey(
        PlannedDose, on_delete=models.SET_NULL, null=True, blank=True, related_name="infusions"
    )
    given_on = models.DateField()
    route = models.CharField(max_length=4, choices=Route.choices)
    product = models.ForeignKey(Product, on_delete=models.PROTECT, null=True, blank=True)
    lot_number = models.CharField(max_length=40, blank=True)
    dose_g = models.DecimalField(
        max_digits=6,
        decimal_places=2,
        validators=[MinValueValidator(dosing.DOSE_G_MIN), MaxValueValidator(dosing.DOSE_G_MAX)],
    )
    weight_kg = models.DecimalField(
        "weight used (kg)",
        max_digits=5,
        decimal_places=1,
        validators=[
            MinValueValidator(dosing.WEIGHT_KG_MIN),
            MaxValueValidator(dosing.WEIGHT_KG_MAX),
        ],
    )

    class Meta:
        ordering = ["cycle", "given_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(dose_g__gte=dosing.DOSE_G_MIN, dose_g__lte=dosing.DOSE_G_MAX),
                name="infusion_dose_plausible",
                violation_error_message="Dose (g) must be between 1 and 200 g.",
            ),
            models.CheckConstraint(
                condition=_plausible_weight("weight_kg"),
                name="infusion_weight_plausible",
                violation_error_message="Weight used (kg) must be between 30 and 250 kg.",
            ),
            # 50-2000 mg/kg, written without division: dose_g * 1000 between 50 and 2000 x kg.
            models.CheckConstraint(
                condition=Q(dose_g__gte=F("weight_kg") * dosing.DOSE_MG_PER_KG_MIN / 1000)
                & Q(dose_g__lte=F("weight_kg") * dosing.DOSE_MG_PER_KG_MAX / 1000),
                name="infusion_mg_per_kg_plausible",
                violation_error_message="Dose (g) for this weight must be between 50 and 2000 mg/kg.",
            ),
        ]

    def __str__(self):
        return f"{self.dose_g} g {self.get_route_display()} on {self.given_on}"

    @property
    def dose_mg_per_kg(self):
        if self.dose_g is None or not self.weight_kg:
            return None
        return dosing.dose_mg_per_kg(self.dose_g, self.weight_kg)
