"""Published evidence the registry is read beside.

The counts are checked by the database as well as by `analytics.meta`, so a study typed into the
admin cannot carry more live births than patients into the pooled estimate.
"""

from django.db import models
from django.db.models import F, Q


class IvigStart(models.TextChoices):
    BEFORE_CONCEPTION = "before_conception", "Before conception or in the conception cycle"
    AFTER_PREGNANCY_CONFIRMED = "after_pregnancy_confirmed", "After pregnancy was confirmed"
    UNSPECIFIED = "unspecified", "Not specified"


class PublishedStudy(models.Model):
    """One controlled study of a published meta-analysis; events are live births."""

    study = models.CharField(max_length=100, help_text="First author, e.g. Ahmadi.")
    year = models.PositiveSmallIntegerField()
    country = models.CharField(max_length=60, blank=True)
    design = models.CharField(max_length=60, blank=True, help_text="e.g. randomized controlled.")
    events_treated = models.IntegerField("live births, treated")
    total_treated = models.IntegerField("patients, treated")
    events_control = models.IntegerField("live births, control")
    total_control = models.IntegerField("patients, control")
    nk_selection = models.BooleanField(
        "NK selection",
        help_text="The study required NK cells of at least 12% of lymphocytes for inclusion.",
    )
    ivig_start = models.CharField(
        "IVIg started", max_length=32, choices=IvigStart.choices, default=IvigStart.UNSPECIFIED
    )
    regimen = models.TextField(blank=True)

    class Meta:
        ordering = ["study", "year"]
        verbose_name = "published study"
        verbose_name_plural = "published studies"
        constraints = [
            models.UniqueConstraint(
                fields=["study", "year"],
                name="published_study_unique_study_year",
                violation_error_message="A published study with this study and year exists.",
            ),
            *(
                models.CheckConstraint(
                    condition=Q(**{f"{count}__gte": 0}),
                    name=f"published_study_{count}_not_negative",
                    violation_error_message=f"{count} must not be negative.",
                )
                for count in ("events_treated", "events_control")
            ),
            # An arm without patients has no rate to compare, so totals start at one.
            *(
                models.CheckConstraint(
                    condition=Q(**{f"{count}__gte": 1}),
                    name=f"published_study_{count}_positive",
                    violation_error_message=f"{count} must be at least 1.",
                )
                for count in ("total_treated", "total_control")
            ),
            *(
                models.CheckConstraint(
                    condition=Q(**{f"events_{arm}__lte": F(f"total_{arm}")}),
                    name=f"published_study_events_{arm}_within_total",
                    violation_error_message=f"events_{arm} must not exceed total_{arm}.",
                )
                for arm in ("treated", "control")
            ),
        ]

    def __str__(self):
        return f"{self.study} ({self.year})"
