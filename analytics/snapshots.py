"""Cohort snapshots: read the registry, compute every metric, optionally keep the result.

The one way the task, the `cohort_stats` command and the dashboard get a snapshot, so all
three print and store the same thing.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from django.utils import timezone

from analytics import exports
from analytics.models import CohortSnapshot
from analytics.options import CohortFilters

if TYPE_CHECKING:
    from analytics.cohort import Definitions


def code_version() -> str:
    """The code (analytics.exports.code_version: package version and commit) and the metric
    definitions' version."""
    from analytics.cohort import METRICS_VERSION

    return f"ivig-registry {exports.code_version()}; metrics v{METRICS_VERSION}"


def cohort_snapshot_compute(
    *, filters: CohortFilters, definitions: Definitions | None = None
) -> CohortSnapshot:
    """An unsaved CohortSnapshot of the patients `filters` pick (a site filter is applied by
    the database, so the other sites' rows are never read)."""
    # pandas, scipy and statsmodels load with the first snapshot, not with every process that
    # can ask for one (analytics.options).
    from analytics.cohort import cohort_snapshot
    from analytics.queries import cohort_frames

    started = time.perf_counter()
    computed_at = timezone.now()
    frames = cohort_frames(site_codes=filters.sites or None)
    payload = cohort_snapshot(frames, filters=filters, definitions=definitions)
    return CohortSnapshot(
        filters=filters.as_json(),
        payload=payload,
        code_version=code_version(),
        computed_at=computed_at,
        seconds=round(time.perf_counter() - started, 3),
    )


def cohort_snapshot_store(
    *, filters: CohortFilters, definitions: Definitions | None = None
) -> CohortSnapshot:
    snapshot = cohort_snapshot_compute(filters=filters, definitions=definitions)
    snapshot.save()
    return snapshot
