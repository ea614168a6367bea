import pytest

from catalog.services import entity_upsert_descriptor

pytestmark = pytest.mark.django_db(transaction=True)


def upsert(kind, name, spec, **metadata):
    data = {"apiVersion": "backstage.io/v1alpha1", "kind": kind, "metadata": {"name": name, **metadata}, "spec": spec}
    entity_upsert_descriptor(data=data)


@pytest.fixture
def org():
    upsert("Group", "team-payments", {"type": "team", "children": []}, title="Payments team")
    upsert("System", "payments", {"owner": "team-payments"}, description="Everything about money")
    for name, depends in (("payments-api", ["ledger"]), ("ledger", []), ("checkout", ["payments-api"])):
        spec = {"type": "service", "lifecycle": "production", "owner": "team-payments", "system": "payments"}
        upsert("Component", name, {**spec, "dependsOn": depends}, description=f"The {name} service")


def test_browse_filter_search_and_follow_a_relation(page, login, output_dir, org):
    login()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Catalog", exact=True).click()
    page.wait_for_url("**/catalog/")
    results = page.locator("#results")
    assert results.get_by_role("link", name="Payments team").is_visible()
    page.screenshot(path=output_dir / "catalog.png", full_page=True)

    # Filtering by kind updates the results in place and puts the filter in the URL.
    page.get_by_label("Kind", exact=True).select_option("component")
    page.wait_for_url("**/catalog/?*kind=component*")
    results.get_by_role("link", name="Payments team").wait_for(state="detached")
    assert results.get_by_role("link", name="checkout").is_visible()
    assert "3 entities" in results.inner_text()
    page.screenshot(path=output_dir / "catalog-components.png", full_page=True)

    # The header search suggests as you type; picking a suggestion opens the entity.
    page.get_by_label("Search the catalog").fill("ledg")
    suggestion = page.locator("#search-suggestions").get_by_role("option", name="ledger")
    suggestion.wait_for()
    page.screenshot(path=output_dir / "suggestions.png")
    suggestion.click()
    page.wait_for_url("**/catalog/component/default/ledger/")
    assert page.get_by_role("heading", name="ledger", level=1).is_visible()

    # Follow a relation to another entity, through the relations list, then through the graph.
    relations = page.locator("section", has=page.get_by_role("heading", name="Relations"))
    relations.locator(".related-list").get_by_role("link", name="payments-api").click()
    page.wait_for_url("**/catalog/component/default/payments-api/")
    page.screenshot(path=output_dir / "entity.png", full_page=True)
    page.locator("svg.relations-graph a[href='/catalog/system/default/payments/']").click()
    page.wait_for_url("**/catalog/system/default/payments/")
    assert page.get_by_role("heading", name="Parts").is_visible()
    page.screenshot(path=output_dir / "system.png", full_page=True)
