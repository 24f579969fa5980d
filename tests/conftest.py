import os

import pytest


def require_service(name: str, reason: str):
    """Skip with the reason, unless CI said the service must be there (then fail)."""
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(f"{name} is required here (REQUIRE_SERVICES=1) but {reason}")
    pytest.skip(f"{name} unavailable: {reason}")


@pytest.fixture
def site_a(db):
    from tests.factories import SiteFactory

    return SiteFactory(code="MTL", name="Montreal")


@pytest.fixture
def site_b(db):
    from tests.factories import SiteFactory

    return SiteFactory(code="CPH", name="Copenhagen")


@pytest.fixture
def cast(site_a, site_b):
    """alice and bob are clinic staff at A and B, ivan investigates at A, rita researches."""
    from registry import roles
    from tests.factories import make_user

    return {
        "alice": make_user("alice", role=roles.CLINIC_STAFF, sites=[site_a]),
        "bob": make_user("bob", role=roles.CLINIC_STAFF, sites=[site_b]),
        "ivan": make_user("ivan", role=roles.INVESTIGATOR, sites=[site_a]),
        "rita": make_user("rita", role=roles.RESEARCHER),
        "admin": make_user("admin", superuser=True),
    }


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
