"""Date order across tables, as PostgreSQL triggers.

- A pregnancy is confirmed on or after its embryo transfer.
- A pregnancy ends after conception (LMP-equivalent date + 14 days) and on or after its
  transfer. Checked on the outcome, and on the pregnancy when its dating changes.
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION outcomes_pregnancy_dates() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_transferred date;
    v_ended date;
BEGIN
    IF NEW.transfer_id IS NOT NULL THEN
        SELECT transferred_on INTO v_transferred FROM outcomes_embryotransfer WHERE id = NEW.transfer_id;
        IF NEW.confirmed_on < v_transferred THEN
            RAISE EXCEPTION 'confirmed on % is before the embryo transfer on %', NEW.confirmed_on, v_transferred
                USING ERRCODE = 'check_violation', CONSTRAINT = 'pregnancy_after_transfer';
        END IF;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        SELECT ended_on INTO v_ended FROM outcomes_pregnancyoutcome WHERE pregnancy_id = NEW.id;
        IF FOUND AND v_ended <= NEW.lmp_on + 14 THEN
            RAISE EXCEPTION 'the pregnancy ended on %, not after conception on %', v_ended, NEW.lmp_on + 14
                USING ERRCODE = 'check_violation', CONSTRAINT = 'outcome_after_conception';
        END IF;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER pregnancy_dates
    BEFORE INSERT OR UPDATE OF transfer_id, confirmed_on, lmp_on ON outcomes_pregnancy
    FOR EACH ROW EXECUTE FUNCTION outcomes_pregnancy_dates();

CREATE FUNCTION outcomes_outcome_dates() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_lmp date;
    v_transferred date;
BEGIN
    SELECT p.lmp_on, t.transferred_on INTO v_lmp, v_transferred
    FROM outcomes_pregnancy p LEFT JOIN outcomes_embryotransfer t ON t.id = p.transfer_id
    WHERE p.id = NEW.pregnancy_id;
    IF NEW.ended_on <= v_lmp + 14 THEN
        RAISE EXCEPTION 'ended on % is not after conception on %', NEW.ended_on, v_lmp + 14
            USING ERRCODE = 'check_violation', CONSTRAINT = 'outcome_after_conception';
    END IF;
    IF v_transferred IS NOT NULL AND NEW.ended_on < v_transferred THEN
        RAISE EXCEPTION 'ended on % is before the embryo transfer on %', NEW.ended_on, v_transferred
            USING ERRCODE = 'check_violation', CONSTRAINT = 'outcome_after_transfer';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER outcome_dates
    BEFORE INSERT OR UPDATE OF ended_on, pregnancy_id ON outcomes_pregnancyoutcome
    FOR EACH ROW EXECUTE FUNCTION outcomes_outcome_dates();
"""

REVERSE = """
DROP TRIGGER IF EXISTS outcome_dates ON outcomes_pregnancyoutcome;
DROP FUNCTION IF EXISTS outcomes_outcome_dates();
DROP TRIGGER IF EXISTS pregnancy_dates ON outcomes_pregnancy;
DROP FUNCTION IF EXISTS outcomes_pregnancy_dates();
"""


class Migration(migrations.Migration):
    dependencies = [("outcomes", "0002_initial")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
