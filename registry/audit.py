"""The audit trail: one decorator for every clinical model.

pghistory installs PostgreSQL triggers, so inserts, updates and deletes are recorded whatever
made them: a form, `queryset.update()`, `bulk_create`, raw SQL. The acting user and URL come from
`pghistory.middleware.HistoryMiddleware`; commands and tasks add their own context.
"""

import pghistory


def audited():
    return pghistory.track(
        pghistory.InsertEvent(),
        pghistory.UpdateEvent(),
        pghistory.DeleteEvent(),
    )
