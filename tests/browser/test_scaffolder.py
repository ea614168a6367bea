"""Create a service from the browser: inline field errors as the form is filled, the run page's live log until the
run finishes, then the new entity. The run is executed by the real engine in this process while the page polls
(a worker process cannot see the test's database on SQLite)."""

import re
import threading

import pytest
from django.db import connection

from scaffolder import engine
from scaffolder.models import ActionRun
from tests.scaffolder.conftest import repos_dir, shipped_actions, team  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)


def test_create_a_service_and_open_it(page, login, output_dir, team, shipped_actions, repos_dir):  # noqa: F811
    login()
    page.goto("/create/")
    page.get_by_role("link", name="Create a Python web service").click()
    page.wait_for_url("**/create/python-service/")

    name = page.get_by_label("Name")
    name.fill("Payments API")
    name.blur()
    error = page.locator("#field-name .field__errors")
    error.wait_for()
    assert "must be" in error.inner_text().lower()
    page.screenshot(path=output_dir / "form-error.png", full_page=True)

    page.get_by_label("Name").fill("payments-api")
    page.get_by_label("Name").blur()
    page.locator("#field-name .field__errors").wait_for(state="detached")
    page.get_by_label("Description").fill("Takes payments.")
    page.get_by_label("Owning team").select_option("group:default/team-a")
    page.wait_for_load_state("networkidle")  # the inline checks have answered and swapped their fields
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Minimum replicas").wait_for()
    assert page.locator("#id-port").input_value() == "8000"
    page.wait_for_load_state("networkidle")  # the inline checks have answered
    page.get_by_role("button", name="Run", exact=True).click()
    page.wait_for_url(re.compile(r".*/runs/\d+/$"))
    run = ActionRun.objects.get()

    def work():
        try:
            engine.execute_run(run.pk)
        finally:
            connection.close()

    worker = threading.Thread(target=work)
    worker.start()
    page.locator("#run-live .run-status .badge", has_text="Succeeded").wait_for(timeout=30_000)
    worker.join()
    assert page.locator("#run-live").get_attribute("hx-trigger") is None, "polling stops once the run ends"
    assert "registered component:default/payments-api" in page.locator(".run-log").inner_text()
    page.screenshot(path=output_dir / "run-succeeded.png", full_page=True)

    page.get_by_role("link", name="Open in catalog").click()
    page.wait_for_url("**/catalog/component/default/payments-api/")
    assert page.get_by_role("heading", name="payments-api").is_visible()
    page.get_by_role("link", name="Runs", exact=True).last.click()
    assert page.get_by_role("link", name="Scale the service").first.is_visible()
    page.screenshot(path=output_dir / "entity-runs-tab.png", full_page=True)
