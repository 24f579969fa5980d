"""A nurse at the keyboard: the admin driven in a real (headless) Chromium.

Needs Debian's chromium and chromium-driver (.ci/run installs them). Without them the test is
skipped with the reason, or fails under REQUIRE_SERVICES=1.
"""

import shutil

import pytest
from django.urls import reverse

from registry import roles
from registry.models import Patient
from tests.conftest import require_service
from tests.factories import SiteFactory, make_user

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
PASSWORD = "browser-test-pw-2026"


@pytest.fixture
def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        require_service("Chromium", "chromium and chromedriver are not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,1600",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


def fill(driver, name: str, value: str) -> None:
    from selenium.webdriver.common.by import By

    field = driver.find_element(By.NAME, name)
    field.clear()
    field.send_keys(value)


def choose(driver, name: str, label: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element(By.NAME, name)).select_by_visible_text(label)


@pytest.mark.django_db(transaction=True)
def test_a_nurse_adds_a_patient_with_consent_in_a_real_browser(live_server, browser):
    from selenium.webdriver.common.by import By

    site = SiteFactory(code="MTL", name="Montreal")
    nurse = make_user("nurse", role=roles.CLINIC_STAFF, sites=[site])
    nurse.set_password(PASSWORD)
    nurse.save()

    browser.get(live_server.url + reverse("admin:login"))
    fill(browser, "username", "nurse")
    fill(browser, "password", PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    assert "Site administration" in browser.page_source or "Registry" in browser.title

    browser.get(live_server.url + reverse("admin:registry_patient_add"))
    choose(browser, "site", "MTL · Montreal")
    for name, value in {
        "given_name": "Ada",
        "family_name": "Browserton",
        "mrn": "B-2026",
        "date_of_birth": "1988-07-14",
        "unexplained_miscarriages": "5",
        "screened_on": "2025-01-02",
        "enrolled_on": "2025-01-06",
    }.items():
        fill(browser, name, value)
    choose(browser, "indication", "Recurrent pregnancy loss")
    choose(browser, "status", "Enrolled")
    # Eligible under the seed-000 protocol: more than 4 miscarriages, conventional care failed.
    browser.find_element(By.NAME, "conventional_treatment_failed").click()
    # The consent inline: "Add another Consent" opens an empty row, as a nurse would click.
    browser.find_element(By.CSS_SELECTOR, "#consents-group .add-row a").click()
    fill(browser, "consents-0-version", "v2")
    fill(browser, "consents-0-signed_on", "2025-01-06")
    browser.find_element(By.NAME, "_save").click()

    success = browser.find_element(By.CSS_SELECTOR, ".messagelist .success").text
    patient = Patient.objects.get(mrn="B-2026")
    assert "was added successfully" in success
    assert patient.study_id.startswith("MTL-")
    assert patient.consents.get().version == "v2"
    # The list shows her by study ID, with her name for staff who may see it.
    assert patient.study_id in browser.page_source
    assert "Browserton" in browser.page_source
