"""Rules that span tables, as PostgreSQL triggers, so no write path can skip them.

- An infusion needs a consent signed on or before its date and not withdrawn by then
  (checked on the infusion at once; on the consent at commit, so that deleting a patient,
  which removes consents and infusions in one transaction, is not refused halfway).
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION registry_consent_covers(p_patient bigint, p_on date) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM registry_consent c
        WHERE c.patient_id = p_patient
          AND c.signed_on <= p_on
          AND (c.withdrawn_on IS NULL OR c.withdrawn_on > p_on)
    )
$$;

CREATE FUNCTION registry_infusion_after_consent() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_patient bigint;
BEGIN
    SELECT patient_id INTO v_patient FROM registry_treatmentcycle WHERE id = NEW.cycle_id;
    IF NOT registry_consent_covers(v_patient, NEW.given_on) THEN
        RAISE EXCEPTION 'given on %: no consent was signed on or before that date (or it was withdrawn)', NEW.given_on
            USING ERRCODE = 'check_violation', CONSTRAINT = 'infusion_after_consent';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER infusion_after_consent
    BEFORE INSERT OR UPDATE OF given_on, cycle_id ON registry_infusion
    FOR EACH ROW EXECUTE FUNCTION registry_infusion_after_consent();

CREATE FUNCTION registry_consent_still_covers() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_given date;
BEGIN
    SELECT i.given_on INTO v_given
    FROM registry_infusion i JOIN registry_treatmentcycle t ON t.id = i.cycle_id
    WHERE t.patient_id = OLD.patient_id AND NOT registry_consent_covers(t.patient_id, i.given_on)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'consent change leaves the infusion given on % without consent', v_given
            USING ERRCODE = 'check_violation', CONSTRAINT = 'infusion_after_consent';
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER consent_still_covers
    AFTER UPDATE OR DELETE ON registry_consent
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION registry_consent_still_covers();
"""

REVERSE = """
DROP TRIGGER IF EXISTS consent_still_covers ON registry_consent;
DROP FUNCTION IF EXISTS registry_consent_still_covers();
DROP TRIGGER IF EXISTS infusion_after_consent ON registry_infusion;
DROP FUNCTION IF EXISTS registry_infusion_after_consent();
DROP FUNCTION IF EXISTS registry_consent_covers(bigint, date);
"""


class Migration(migrations.Migration):
    dependencies = [("registry", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
