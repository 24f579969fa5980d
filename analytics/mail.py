"""Sending an email at most once: claim its row, send, mark the row.

Reports and alerts are rows of analytics.models.ClaimedSend. Whoever wants to send one first
claims it: inserts it as "sending" (a unique constraint lets one insert win), or takes it from
"queued" (a re-send someone asked for) or "failed" (known not delivered) with a conditional
UPDATE that one caller wins. Only the winner sends, then marks the row "sent". Each step
commits on its own, so a second worker, a rerun or a retry sees the claim at once.

A row left in "sending" means a worker stopped between sending and marking: the mail may have
left. Nothing takes such a row over; the admin shows it to a person (needs_attention).

These functions must run outside any transaction (tasks and commands run in autocommit): a
claim inside a transaction holds nothing until that transaction commits.
"""

import logging
import smtplib
import socket
from collections.abc import Callable
from typing import TypeVar

from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from analytics.models import ClaimedSend, SendStatus

logger = logging.getLogger(__name__)

# What is worth trying again later: the SMTP server refused or was unreachable, or the
# database went away. smtplib's errors are OSErrors, but so is a missing file: name them.
RETRYABLE = (
    smtplib.SMTPException,
    ConnectionError,
    TimeoutError,
    socket.gaierror,
    OperationalError,
)
# Rows in these states are known not to have been delivered, so a job may take them.
TAKEABLE = (SendStatus.QUEUED, SendStatus.FAILED)
ERROR_MAX_CHARS = 2000

Row = TypeVar("Row", bound=ClaimedSend)


class NotSendable(Exception):
    """This email cannot be sent as things are (no recipient, no site): a person must act;
    trying again later would change nothing."""


def send_claim(rows: QuerySet[Row], *, create: Callable[..., Row] | None = None) -> Row | None:
    """The one row of `rows`, now "sending" and ours; None when someone else has it or it was
    sent. With `create`, a missing row is inserted as "sending" (create(**fields) saves it)."""
    now = timezone.now()
    if create is not None:
        try:
            with transaction.atomic():
                return create(status=SendStatus.SENDING, claimed_at=now, attempts=1)
        except IntegrityError:
            if not rows.exists():
                raise  # another constraint refused it: a bug, not a race
    taken = rows.filter(status__in=TAKEABLE).update(
        status=SendStatus.SENDING,
        claimed_at=now,
        attempts=F("attempts") + 1,
        checked_by=None,
        checked_at=None,
    )
    return rows.get() if taken else None


def send_mark_sent(*, row: ClaimedSend, fields: dict | None = None) -> None:
    fields = {**(fields or {}), "status": SendStatus.SENT, "sent_at": timezone.now(), "error": ""}
    for name, value in fields.items():
        setattr(row, name, value)
    row.save(update_fields=list(fields))


def send_mark_failed(*, row: ClaimedSend, error: BaseException) -> None:
    row.status = SendStatus.FAILED
    row.error = f"{type(error).__name__}: {error}"[:ERROR_MAX_CHARS]
    row.save(update_fields=["status", "error", "recipients", "subject"])


def send_once(
    *, row: Row, build: Callable[[], tuple[EmailMessage, dict]], subject_of: str = ""
) -> Row:
    """Build the claimed row's message, send it, and mark the row.

    `build` returns the message and the fields to store with the sent row. Any error before
    the server accepted the message marks the row "failed" (with the error) and is raised, so
    the task's retry, or a person, can take it again. An error while marking it "sent" leaves
    it "sending", for a person: the mail has left.
    """
    try:
        message, fields = build()
        row.recipients = message.recipients()
        row.subject = message.subject[:300]
        email_send(message)
    except Exception as exc:
        try:
            send_mark_failed(row=row, error=exc)
        except Exception:
            logger.exception("could not record the failure of %s (it stays 'sending')", row)
        if isinstance(exc, NotSendable):
            logger.error("%s not sent: %s", row, exc)
        else:
            logger.warning("%s not sent (%s: %s)", row, type(exc).__name__, exc)
        raise
    send_mark_sent(row=row, fields={"recipients": row.recipients, "subject": row.subject, **fields})
    return row


def email_send(message: EmailMessage) -> None:
    """Send one message through the configured backend, failing loudly.

    The connection is opened here, not by send_messages, because send_messages closes a
    connection it opened itself and raises what QUIT raises: an error after the server has
    accepted the message would then look like a failed send, and be sent again.
    """
    connection = get_connection(fail_silently=False)
    connection.open()
    try:
        sent = connection.send_messages([message])
    finally:
        try:
            connection.close()
        except Exception as exc:
            logger.warning("closing the SMTP connection after sending: %s", exc)
    if sent == 0 and message.recipients():
        raise smtplib.SMTPException("the mail backend sent nothing")
