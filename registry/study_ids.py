"""Study IDs: the only key a researcher ever sees.

Drawn at random (never from the MRN, the name or the date of birth), so knowing a study ID
tells nothing about who the patient is. The alphabet leaves out 0/O, 1/I/L and U so IDs read
aloud or copied by hand survive.
"""

import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 6
PATTERN = rf"^[A-Z]{{2,6}}-[{ALPHABET}]{{4,8}}$"


def new_study_id(site_code: str) -> str:
    suffix = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return f"{site_code}-{suffix}"
