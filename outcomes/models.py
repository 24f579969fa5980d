"""What happens: transfers, pregnancies, visits, births and adverse events.

Date order across tables (a pregnancy ends after its transfer and after conception) is enforced
by PostgreSQL triggers installed in migration 0002, as well as by the forms.
"""

import datetime as dt

from django.db import models
from django.db.models import F, Q

from outcomes import gestation
from registry.audit import audited
from registry.models import Infusion, Patient, TreatmentCycle

# Birth weights outside this range are typing errors (grams for kilograms, a digit too many).
BIRTH_WEIGHT_G_MIN = 200
BIRTH_WEIGHT_G_MAX = 6500


@audited()
class EmbryoTransfer(models.Model):
    class Kind(models.TextChoices):
        FRESH = "fresh", "Fresh"
        FROZEN = "frozen", "Frozen"

    class Result(models.TextChoices):
        PENDING = "pending", "Pending"
        NEGATIVE = "negative", "Negative"
        BIOCHEMICAL = "biochemical", "Biochemical pregnancy"
        CLINICAL = "clinical", "Clinical pregnancy"
        ECTOPIC = "ectopic", "Ectopic pregnancy"

    cycle = models.ForeignKey(TreatmentCycle, on_delete=models.CASCADE, related_name="transfers")
    transferred_on = models.DateField()
    kind = models.CharField(max_length=6, choices=Kind.choices)
    embryo_day = models.PositiveSmallIntegerField(help_text="Day of development, 2-7.")
    embryo_quality = models.CharField(max_length=20, blank=True, help_text="e.g. 4AA")
    good_quality = models.BooleanField(default=True)
    embryos_transferred = models.PositiveSmallIntegerField(default=1)
    result = models.CharField(max_length=11, choices=Result.choices, default=Result.PENDING)

    class Meta:
        ordering = ["cycle", "transferred_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["cycle", "transferred_on"], name="one_transfer_per_cycle_day"
            ),
            models.CheckConstraint(
                condition=Q(embryo_day__gte=2, embryo_day__lte=7),
                name="transfer_embryo_day",
                violation_error_message="Embryo day must be between 2 and 7.",
            ),
            models.CheckConstraint(
                condition=Q(embryos_transferred__gte=1, embryos_transferred__lte=3),
                name="transfer_embryo_count",
                violation_error_message="Embryos transferred must be 1, 2 or 3.",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} ET on {self.transferred_on}"


@audited()
class Pregnancy(models.Model):
    class Conception(models.TextChoices):
        IVF = "ivf", "IVF / embryo transfer"
        NATURAL = "natural", "Natural conception"

    class Dating(models.TextChoices):
        TRANSFER = "transfer", "Transfer date and embryo day"
        LMP = "lmp", "Last menstrual period"
        ULTRASOUND = "ultrasound", "Early ultrasound"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="pregnancies")
    cycle = models.ForeignKey(
        TreatmentCycle,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="pregnancies",
    )
    transfer = models.OneToOneField(
        EmbryoTransfer,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="pregnancy",
    )
    conception = models.CharField(max_length=7, choices=Conception.choices)
    dating = models.CharField(max_length=10, choices=Dating.choices)
    lmp_on = models.DateField(
        "LMP-equivalent date",
        help_text="Dating anchor. Derived from the transfer for IVF pregnancies.",
    )
    fetuses = models.PositiveSmallIntegerField(default=1)
    confirmed_on = models.DateField(
        "clinical pregnancy confirmed on", help_text="Ultrasound with a gestational sac."
    )

    class Meta:
        ordering = ["patient", "confirmed_on"]
        verbose_name_plural = "pregnancies"
        constraints = [
            models.CheckConstraint(
                condition=~Q(conception="ivf") | Q(transfer__isnull=False),
                name="pregnancy_ivf_has_transfer",
                violation_error_message="An IVF pregnancy must name its embryo transfer.",
            ),
            models.CheckConstraint(
                condition=~Q(dating="transfer") | Q(transfer__isnull=False),
                name="pregnancy_transfer_dating_has_transfer",
                violation_error_message="Dating by transfer needs the embryo transfer.",
            ),
            models.CheckConstraint(
                condition=Q(fetuses__gte=1, fetuses__lte=4),
                name="pregnancy_fetus_count",
                violation_error_message="Fetuses must be between 1 and 4.",
            ),
            models.CheckConstraint(
                condition=Q(
                    confirmed_on__gt=F("lmp_on")
                    + dt.timedelta(days=gestation.DAYS_FROM_LMP_TO_CONCEPTION)
                ),
                name="pregnancy_confirmed_after_conception",
                violation_error_message="Confirmed on must be after conception (LMP-equivalent date + 14 days).",
            ),
        ]

    def __str__(self):
        return f"pregnancy confirmed {self.confirmed_on}"

    def ga_days_on(self, on):
        return gestation.ga_days(self.lmp_on, on)


@audited()
class FollowUpVisit(models.Model):
    class Kind(models.TextChoices):
        ANTENATAL = "antenatal", "Antenatal (every 3 months)"
        POSTPARTUM = "postpartum", "One month after the pregnancy ends"

    class Status(models.TextChoices):
        DUE = "due", "Due"
        DONE = "done", "Done"
        MISSED = "missed", "Missed"

    pregnancy = models.ForeignKey(Pregnancy, on_delete=models.CASCADE, related_name="visits")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    due_from = models.DateField()
    due_until = models.DateField()
    status = models.CharField(max_length=6, choices=Status.choices, default=Status.DUE)
    done_on = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["pregnancy", "due_from"]
        constraints = [
            models.CheckConstraint(
                condition=Q(due_until__gte=F("due_from")),
                name="visit_window_order",
                violation_error_message="Due until must be on or after due from.",
            ),
            models.CheckConstraint(
                condition=(Q(status="done") & Q(done_on__isnull=False))
                | (~Q(status="done") & Q(done_on__isnull=True)),
                name="visit_done_has_date",
                violation_error_message="Done on is required for a visit marked done, and only then.",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} visit due {self.due_from}"


@audited()
class PregnancyOutcome(models.Model):
    class Kind(models.TextChoices):
        LIVE_BIRTH = "live_birth", "Live birth"
        MISCARRIAGE = "miscarriage", "Miscarriage"
        STILLBIRTH = "stillbirth", "Stillbirth"
        ECTOPIC = "ectopic", "Ectopic"
        TERMINATION = "termination", "Termination"

    class Delivery(models.TextChoices):
        VAGINAL = "vaginal", "Vaginal"
        CAESAREAN = "caesarean", "Caesarean"
        NOT_APPLICABLE = "na", "Not applicable"

    pregnancy = models.OneToOneField(Pregnancy, on_delete=models.CASCADE, related_name="outcome")
    kind = models.CharField(max_length=11, choices=Kind.choices)
    ended_on = models.DateField()
    delivery_mode = models.CharField(
        max_length=9, choices=Delivery.choices, default=Delivery.NOT_APPLICABLE
    )
    preterm_labour = models.BooleanField(default=False)
    complications = models.TextField(blank=True)

    class Meta:
        ordering = ["ended_on"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind__in=["live_birth", "stillbirth"]) | ~Q(delivery_mode="na"),
                name="outcome_delivery_has_mode",
                violation_error_message="Delivery mode is required for a live birth or stillbirth.",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} on {self.ended_on}"


@audited()
class Infant(models.Model):
    class Sex(models.TextChoices):
        FEMALE = "female", "Female"
        MALE = "male", "Male"
        UNDETERMINED = "undetermined", "Undetermined"

    class Development(models.TextChoices):
        NORMAL = "normal", "Normal"
        DELAY = "delay", "Delay"
        NOT_ASSESSED = "not_assessed", "Not assessed"

    pregnancy = models.ForeignKey(Pregnancy, on_delete=models.CASCADE, related_name="infants")
    birth_order = models.PositiveSmallIntegerField(default=1)
    sex = models.CharField(max_length=12, choices=Sex.choices)
    birth_weight_g = models.PositiveSmallIntegerField()
    live_born = models.BooleanField(default=True)
    anomalies = models.TextField(blank=True)
    nicu_admission = models.BooleanField("NICU admission", default=False)
    development_12m = models.CharField(
        "development at 12 months",
        max_length=12,
        choices=Development.choices,
        default=Development.NOT_ASSESSED,
    )

    class Meta:
        ordering = ["pregnancy", "birth_order"]
        constraints = [
            models.UniqueConstraint(fields=["pregnancy", "birth_order"], name="one_birth_order"),
            models.CheckConstraint(
                condition=Q(birth_weight_g__gte=BIRTH_WEIGHT_G_MIN)
                & Q(birth_weight_g__lte=BIRTH_WEIGHT_G_MAX),
                name="infant_birth_weight_plausible",
                violation_error_message="Birth weight (g) must be between 200 and 6500 g.",
            ),
            models.CheckConstraint(
                condition=Q(birth_order__gte=1),
                name="infant_order_positive",
                violation_error_message="Birth order starts at 1.",
            ),
        ]

    def __str__(self):
        return f"infant {self.birth_order}: {self.get_sex_display()}, {self.birth_weight_g} g"


@audited()
class AdverseEvent(models.Model):
    class Subject(models.TextChoices):
        MATERNAL = "maternal", "Maternal"
        FETAL = "fetal", "Fetal"
        NEONATAL = "neonatal", "Neonatal"

    class Term(models.TextChoices):
        HEADACHE = "headache", "Headache"
        INFUSION_REACTION = "infusion_reaction", "Infusion reaction"
        ANAPHYLAXIS = "anaphylaxis", "Anaphylaxis"
        THROMBOSIS = "thrombosis", "Thrombosis"
        HAEMOLYSIS = "haemolysis", "Haemolysis"
        RENAL = "renal", "Renal"
        ASEPTIC_MENINGITIS = "aseptic_meningitis", "Aseptic meningitis"
        PRETERM_LABOUR = "preterm_labour", "Preterm labour"
        FETAL_ANOMALY = "fetal_anomaly", "Fetal anomaly"
        OTHER = "other", "Other"

    class Relatedness(models.TextChoices):
        UNRELATED = "unrelated", "Unrelated"
        UNLIKELY = "unlikely", "Unlikely"
        POSSIBLE = "possible", "Possible"
        PROBABLE = "probable", "Probable"
        DEFINITE = "definite", "Definite"

    class Action(models.TextChoices):
        NONE = "none", "None"
        RATE_SLOWED = "rate_slowed", "Infusion slowed"
        INTERRUPTED = "interrupted", "Infusion interrupted"
        STOPPED = "stopped", "Treatment stopped"
        TREATED = "treated", "Treated"
        HOSPITALISED = "hospitalised", "Hospitalised"

    class Resolution(models.TextChoices):
        RECOVERED = "recovered", "Recovered"
        RECOVERING = "recovering", "Recovering"
        ONGOING = "ongoing", "Not recovered"
        SEQUELAE = "sequelae", "Recovered with sequelae"
        FATAL = "fatal", "Fatal"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="adverse_events")
    infusion = models.ForeignKey(
        Infusion,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="adverse_events",
    )
    pregnancy = models.ForeignKey(
        Pregnancy,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="adverse_events",
    )
    subject = models.CharField(max_length=8, choices=Subject.choices, default=Subject.MATERNAL)
    term = models.CharField(max_length=18, choices=Term.choices)
    term_other = models.CharField("term, if other", max_length=100, blank=True)
    grade = models.PositiveSmallIntegerField(help_text="CTCAE grade 1-5.")
    serious = models.BooleanField(default=False)
    relatedness = models.CharField(max_length=9, choices=Relatedness.choices)
    onset_on = models.DateField()
    resolved_on = models.DateField(null=True, blank=True)
    action_taken = models.CharField(max_length=12, choices=Action.choices, default=Action.NONE)
    resolution = models.CharField(
        max_length=10, choices=Resolution.choices, default=Resolution.RECOVERED
    )
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["onset_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(grade__gte=1, grade__lte=5),
                name="ae_grade_ctcae",
                violation_error_message="Grade must be a CTCAE grade, 1 to 5.",
            ),
            # CTCAE grade 4 is life-threatening and grade 5 is death: serious by definition.
            models.CheckConstraint(
                condition=Q(grade__lte=3) | Q(serious=True),
                name="ae_grade_4_5_serious",
                violation_error_message="A grade 4 or 5 event is serious by definition: tick serious.",
            ),
            models.CheckConstraint(
                condition=~Q(term="other") | ~Q(term_other=""),
                name="ae_other_term_named",
                violation_error_message="Name the event in 'term, if other' when the term is Other.",
            ),
            models.CheckConstraint(
                condition=Q(resolved_on__isnull=True) | Q(resolved_on__gte=F("onset_on")),
                name="ae_resolved_after_onset",
                violation_error_message="Resolved on must be on or after onset on.",
            ),
        ]

    def __str__(self):
        return f"{self.get_term_display()} (grade {self.grade}) on {self.onset_on}"
