import os

import pytest


def require_service(name: str, reason: str):
    """Skip with the reason, unless CI said the service must be there (then fail)."""
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(f"{name} is required here (REQUIRE_SERVICES=1) but {reason}")
    pytest.skip(f"{name} unavailable: {reason}")
