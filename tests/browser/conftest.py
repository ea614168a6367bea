"""Browser tests: Playwright driving Debian's Chromium against Django's live server.

Playwright's own browser download cannot work here, so we launch /usr/bin/chromium (or $CHROMIUM_PATH) with a fresh
profile. Each test gets an output folder under test-results/ for screenshots.
"""

import os
import re
import shutil
from pathlib import Path

import pytest

from tests.helpers import skip_unless_available

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
RESULTS_DIR = Path(__file__).resolve().parents[2] / "test-results"

# Playwright's sync API runs an event loop in this thread; Django's async-safety check would refuse the test's own
# database calls, which are fine here (they are not run inside that loop).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)
            # One xdist process runs all browser tests so two Chromiums never fight over 2 cores.
            item.add_marker(pytest.mark.xdist_group("browser"))


@pytest.fixture(scope="session")
def chromium_path():
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        skip_unless_available("Chromium is not installed (apt-get install chromium)")
    return path


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    # launch() gives every browser a fresh, throwaway profile directory of its own.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def output_dir(request):
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-120:]
    path = RESULTS_DIR / name
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def login(page, django_user_model):
    """Log in through the real form; returns the user."""

    def do_login(username="dev", password="dev-password", **extra):
        user = django_user_model.objects.filter(username=username).first() or django_user_model.objects.create_user(
            username=username, password=password, email=f"{username}@example.com", **extra
        )
        page.goto("/accounts/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(lambda url: "/accounts/login/" not in url)
        return user

    return do_login
