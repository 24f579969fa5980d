"""The default protocol, seed 000, as a row every installation starts with.

Its parameters are the Protocol model's defaults, so only the code, name and source are written
here; an existing row with the code is left as it is (staff may have edited it).
"""

from django.db import migrations

SEED_000 = {
    "code": "seed-000",
    "name": "IVIg 600-800 mg/kg before ET, monthly to 32-34 weeks (MUHC)",
    "source": "Seed 000: McGill case series, MUHC REB 15-408",
}


def create_seed_000(apps, schema_editor):
    Protocol = apps.get_model("registry", "Protocol")
    Protocol.objects.get_or_create(code=SEED_000["code"], defaults=SEED_000)


class Migration(migrations.Migration):
    dependencies = [("registry", "0003_eligibility_override_and_intervals")]

    # Reversing leaves the row: cycles may already point to it.
    operations = [migrations.RunPython(create_seed_000, migrations.RunPython.noop)]
