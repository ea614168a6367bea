import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_log_in_see_home_and_click_through_the_navigation(page, login, output_dir):
    page.goto("/")
    assert page.get_by_role("link", name="Log in to get started").is_visible()

    login()

    assert page.get_by_role("heading", name="Welcome to Portico, dev").is_visible()
    nav = page.get_by_role("navigation", name="Main")
    labels = [link.inner_text() for link in nav.get_by_role("link").all()]
    assert labels, "the header navigation has links"
    for label in labels:
        nav.get_by_role("link", name=label, exact=True).click()
        page.wait_for_load_state()
        assert page.locator("h1").first.is_visible()
        assert nav.get_by_role("link", name=label, exact=True).get_attribute("aria-current") == "page"
        page.screenshot(path=output_dir / f"nav-{label.lower()}.png", full_page=True)

    page.goto("/")
    page.screenshot(path=output_dir / "home.png", full_page=True)
    page.locator(".user-menu summary").click()
    page.get_by_role("button", name="Log out").click()
    assert page.get_by_role("link", name="Log in to get started").is_visible()


def test_the_layout_works_on_a_phone(page, login, output_dir):
    page.set_viewport_size({"width": 390, "height": 844})
    login()

    assert page.get_by_role("navigation", name="Main").is_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "no horizontal scrolling on a phone"
    page.screenshot(path=output_dir / "home-phone.png", full_page=True)
