import pytest
from django.urls import reverse

from catalog.models import Blueprint, Entity, Location
from catalog.services import blueprint_create, entity_upsert_descriptor
from catalog.views import edit_file_url
from rbac.models import AuditEvent

pytestmark = pytest.mark.django_db


def upsert(kind, name, spec=None, *, location=None, source_file="", **metadata):
    data = {"apiVersion": "backstage.io/v1alpha1", "kind": kind, "metadata": {"name": name, **metadata}, "spec": spec}
    return entity_upsert_descriptor(data=data or {}, location=location, source_file=source_file).entity


def component(name, *, owner="team-a", **spec):
    return upsert("Component", name, {"type": "service", "lifecycle": "production", "owner": owner, **spec})


@pytest.fixture
def org():
    upsert("Group", "team-a", {"type": "team", "children": ["team-a-sub"], "members": ["alice"]}, title="Team A")
    upsert("Group", "team-a-sub", {"type": "team", "children": [], "parent": "team-a"})
    upsert("User", "alice", {"memberOf": ["team-a"]})
    upsert("Domain", "money", {"owner": "team-a"})
    upsert("System", "payments", {"owner": "team-a", "domain": "money"})
    return component("payments-api", system="payments", dependsOn=["component:ghost"])


@pytest.fixture
def environment_blueprint(admin_user):
    return blueprint_create(
        actor=admin_user,
        identifier="environment",
        title="Environment",
        schema={
            "type": "object",
            "properties": {
                "tier": {"type": "string", "enum": ["dev", "prod"], "enumColors": {"prod": "bad"}},
                "url": {"type": "string", "format": "url"},
                "replicas": {"type": "integer"},
                "regions": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["tier"],
        },
    )


PAGES = [
    "/catalog/",
    "/catalog/search/?q=pay",
    "/catalog/search/suggest/?q=pay",
    "/catalog/component/default/payments-api/",
    "/catalog/blueprints/",
    "/catalog/blueprints/component/",
]


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_visitors_are_sent_to_log_in(client, org, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("url", PAGES)
@pytest.mark.parametrize("who", ["member_client", "admin_client"])
def test_members_and_admins_see_every_page(request, org, url, who):
    response = request.getfixturevalue(who).get(url)

    assert response.status_code == 200


@pytest.mark.parametrize(
    "url", ["/catalog/blueprints/new/", "/catalog/blueprints/component/edit/", "/catalog/blueprints/x/entities/new/"]
)
def test_only_platform_admins_may_open_blueprint_and_entity_forms(member_client, admin_client, url):
    Blueprint.objects.get_or_create(identifier="x", defaults={"title": "X"})

    assert member_client.get(url).status_code == 403
    assert admin_client.get(url).status_code == 200


def test_index_lists_filters_and_counts_kinds(member_client, org):
    response = member_client.get("/catalog/", {"kind": "component"})
    body = response.content.decode()

    assert "payments-api" in body
    assert "alice" not in body
    assert 'aria-current="page">Component <span class="chip__count">1</span>' in body
    assert 'User <span class="chip__count">1</span>' in body
    assert '<option value="component" selected>' in body
    assert response.context["page"].paginator.count == 1


def test_index_answers_htmx_with_only_the_results(member_client, org):
    response = member_client.get("/catalog/?q=alice", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="results")
    body = response.content.decode()

    assert body.lstrip().startswith('<section id="results"')
    assert "<html" not in body
    assert "alice" in body
    assert "HX-Request" in response["Vary"]


def test_index_shows_orphaned_entities_with_a_badge(member_client, org):
    Entity.objects.filter(name="payments-api").update(orphaned=True)

    body = member_client.get("/catalog/").content.decode()

    assert "orphaned</span>" in body


def test_index_paginates_by_fifty_and_keeps_the_filters(member_client):
    upsert("Group", "team-a", {"type": "team", "children": []})
    for number in range(55):
        component(f"svc-{number:02}")

    first = member_client.get("/catalog/?kind=component")
    second = member_client.get("/catalog/?kind=component&page=2")

    assert len(first.context["page"].object_list) == 50
    assert "kind=component&amp;page=2" in first.content.decode()
    assert len(second.context["page"].object_list) == 5


def test_an_invalid_filter_says_so_instead_of_failing(member_client, org):
    response = member_client.get("/catalog/?sort=nonsense")

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()


def _seed(count):
    upsert("Group", "team-a", {"type": "team", "children": []})
    for number in range(count):
        component(f"svc-{number:03}", dependsOn=[f"svc-{(number + 1) % count:03}"])


@pytest.mark.parametrize("count", [10, 60])
def test_index_costs_the_same_queries_whatever_the_size(member_client, django_assert_max_num_queries, count):
    _seed(count)
    # session, user, count, page, kind counts, facets
    with django_assert_max_num_queries(6):
        assert member_client.get("/catalog/?owner=team-a&q=svc").status_code == 200
    with django_assert_max_num_queries(5):
        assert member_client.get("/catalog/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="results").status_code == 200


@pytest.mark.parametrize("count", [10, 60])
def test_entity_and_group_pages_cost_the_same_queries_whatever_the_size(
    member_client, django_assert_max_num_queries, count
):
    _seed(count)
    # session, user, entity, permissions (2), outgoing, incoming counts, incoming per type (+ owned count and page)
    with django_assert_max_num_queries(8):
        assert member_client.get("/catalog/component/default/svc-005/").status_code == 200
    with django_assert_max_num_queries(9):
        assert member_client.get("/catalog/group/default/team-a/").status_code == 200


def test_entity_page_shows_header_about_properties_relations_graph_and_yaml(member_client, org):
    location = Location.objects.create(
        type=Location.Type.URL, target="https://github.com/acme/payments.git", path="catalog-info.yaml", branch="main"
    )
    upsert(
        "Component",
        "payments-api",
        {"type": "service", "lifecycle": "production", "owner": "team-a", "system": "payments"},
        location=location,
        source_file="catalog-info.yaml",
        tags=["python"],
        links=[
            {"url": "https://runbook.example/pay", "title": "Runbook"},
            {"url": "javascript:alert(1)", "title": "x"},
        ],
    )

    body = member_client.get("/catalog/component/default/payments-api/").content.decode()

    assert '<a href="/catalog/group/default/team-a/">team-a</a>' in body
    assert '<span class="badge badge--ok">production</span>' in body
    assert '<span class="tag">python</span>' in body
    assert '<a href="https://runbook.example/pay" rel="noopener noreferrer">Runbook</a>' in body
    assert "javascript:" not in body.split("Descriptor (YAML)")[0]
    assert 'href="https://github.com/acme/payments/edit/main/catalog-info.yaml"' in body
    assert f'<a href="/catalog/locations/{location.pk}/">' in body
    assert '<svg class="relations-graph"' in body
    assert 'href="/catalog/system/default/payments/"' in body
    assert "apiVersion: backstage.io/v1alpha1" in body
    assert 'aria-current="page">Overview</a>' in body


def test_entity_page_marks_references_not_in_the_catalog_yet(member_client, org):
    body = member_client.get("/catalog/component/default/payments-api/").content.decode()

    assert '<span class="unresolved">component:ghost</span>' in body
    assert "not in the catalog yet" in body


def test_entity_page_shows_warnings_and_schema_errors(member_client, org):
    Entity.objects.filter(name="payments-api").update(
        warnings=["$text ./missing.md could not be read"], schema_errors=["tier: 'tier' is a required property"]
    )

    body = member_client.get("/catalog/component/default/payments-api/").content.decode()

    assert "$text ./missing.md could not be read" in body
    assert "tier: &#x27;tier&#x27; is a required property" in body


def test_group_page_shows_members_child_groups_and_owned_entities(member_client, org):
    response = member_client.get("/catalog/group/default/team-a/")
    body = response.content.decode()

    assert [row.ref for row in response.context["members"]] == ["user:default/alice"]
    assert [row.ref for row in response.context["children"]] == ["group:default/team-a-sub"]
    assert sorted(entity.name for entity in response.context["owned_page"]) == ["money", "payments", "payments-api"]
    assert 'id="owned"' in body


def test_group_page_pages_through_what_it_owns_with_htmx(member_client):
    upsert("Group", "team-a", {"type": "team", "children": []})
    for number in range(55):
        component(f"svc-{number:02}")

    response = member_client.get(
        "/catalog/group/default/team-a/?owned_page=2", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="owned"
    )
    body = response.content.decode()

    assert body.lstrip().startswith('<section id="owned"')
    assert "svc-54" in body
    assert "svc-00" not in body


def test_user_page_shows_groups_and_system_page_shows_parts(member_client, org):
    user = member_client.get("/catalog/user/default/alice/")
    system = member_client.get("/catalog/system/default/payments/")
    domain = member_client.get("/catalog/domain/default/money/")

    assert [row.ref for row in user.context["memberships"]] == ["group:default/team-a"]
    assert [row.ref for row in system.context["parts"]] == ["component:default/payments-api"]
    assert [row.ref for row in domain.context["parts"]] == ["system:default/payments"]


def test_missing_entity_is_a_404(member_client):
    assert member_client.get("/catalog/component/default/nope/").status_code == 404


def test_suggestions_are_a_list_of_links(member_client, org):
    body = member_client.get("/catalog/search/suggest/?q=paym").content.decode()

    assert body.startswith('<ul class="suggestions"')
    assert 'href="/catalog/component/default/payments-api/"' in body
    assert member_client.get("/catalog/search/suggest/?q=").content.strip() == b""


def test_search_page_lists_ranked_results(member_client, org):
    response = member_client.get("/catalog/search/?q=payments")

    assert [entity.name for entity in response.context["results"]][:2] == ["payments", "payments-api"]


def test_header_has_the_catalog_first_and_a_search_box(member_client):
    body = member_client.get("/").content.decode()

    assert 'action="/catalog/search/"' in body
    assert 'hx-get="/catalog/search/suggest/"' in body
    assert body.index('href="/catalog/"') < body.index('href="/docs/"')


def test_blueprint_list_counts_entities_and_detail_shows_the_schema(member_client, org):
    listing = member_client.get("/catalog/blueprints/")
    detail = member_client.get("/catalog/blueprints/component/").content.decode()

    counts = {blueprint.identifier: blueprint.entity_count for blueprint in listing.context["blueprints"]}
    assert counts["component"] == 1
    assert counts["group"] == 2
    assert "<code>lifecycle</code>" in detail
    assert "providesApis" in detail


def test_creating_a_blueprint_with_a_bad_schema_shows_the_error_at_the_field(admin_client):
    response = admin_client.post(
        "/catalog/blueprints/new/",
        {"identifier": "cluster", "title": "Cluster", "schema": '{"type": "object", "properties": {', "relations": ""},
    )
    invalid = admin_client.post(
        "/catalog/blueprints/new/",
        {"identifier": "cluster", "title": "Cluster", "schema": '{"type": "string"}', "relations": '[{"x": 1}]'},
    )

    assert "Not valid JSON" in response.content.decode()
    assert invalid.context["form"].errors["schema"] == ['The schema must describe an object ("type": "object").']
    assert invalid.context["form"].errors["relations"] == ["Relation 1 needs an identifier and a target blueprint."]
    assert not Blueprint.objects.filter(identifier="cluster").exists()


def test_creating_a_blueprint_then_an_entity_of_it(admin_client, environment_blueprint):
    created = admin_client.post(
        "/catalog/blueprints/new/",
        {"identifier": "cluster", "title": "Cluster", "schema": '{"type": "object"}', "relations": "[]"},
    )
    bad = admin_client.post(
        "/catalog/blueprints/environment/entities/new/",
        {"name": "staging", "namespace": "default", "prop__tier": "", "prop__replicas": "two"},
    )
    good = admin_client.post(
        "/catalog/blueprints/environment/entities/new/",
        {
            "name": "staging",
            "namespace": "default",
            "tags": "eu, staging",
            "prop__tier": "prod",
            "prop__url": "https://staging.example",
            "prop__replicas": "3",
            "prop__regions": "eu-west-1\neu-central-1",
        },
    )

    assert created.status_code == 302
    assert bad.context["form"].errors["prop__tier"] == ["This field is required."]
    assert "prop__replicas" in bad.context["form"].errors
    assert good.status_code == 302
    entity = Entity.objects.get(ref="environment:default/staging")
    assert entity.properties == {
        "tier": "prod",
        "url": "https://staging.example",
        "replicas": 3,
        "regions": ["eu-west-1", "eu-central-1"],
    }
    assert entity.tags == ["eu", "staging"]
    page = admin_client.get(good["Location"]).content.decode()
    assert '<span class="badge badge--bad">prod</span>' in page
    assert '<a href="https://staging.example" rel="noopener noreferrer">' in page


def test_editing_a_blueprint_schema_lists_the_entities_that_no_longer_fit(admin_client, environment_blueprint):
    upsert("Environment", "dev", {"tier": "dev"})

    response = admin_client.post(
        "/catalog/blueprints/environment/edit/",
        {
            "title": "Environment",
            "icon": "box",
            "schema": '{"type": "object", "properties": {"tier": {"enum": ["prod"]}}, "required": ["tier"]}',
            "relations": "[]",
        },
    )
    body = response.content.decode()

    assert response.status_code == 200
    assert "1 entity no longer fits" in body
    assert 'href="/catalog/environment/default/dev/"' in body
    assert Blueprint.objects.get(identifier="environment").schema["properties"]["tier"] == {"enum": ["prod"]}


def test_editing_and_deleting_an_entity(admin_client, environment_blueprint):
    upsert("Environment", "dev", {"tier": "dev"})

    edited = admin_client.post(
        "/catalog/environment/default/dev/edit/", {"title": "Development", "tags": "", "prop__tier": "prod"}
    )
    entity = Entity.objects.get(ref="environment:default/dev")
    confirm = admin_client.get("/catalog/environment/default/dev/delete/")
    deleted = admin_client.post("/catalog/environment/default/dev/delete/")

    assert edited.status_code == 302
    assert (entity.title, entity.properties["tier"]) == ("Development", "prod")
    assert b"delete environment:dev?" in confirm.content.lower()
    assert deleted.status_code == 302
    assert not Entity.objects.filter(ref="environment:default/dev").exists()
    assert AuditEvent.objects.filter(verb="entity.delete").count() == 1


def test_members_may_not_edit_or_delete(member_client, environment_blueprint):
    upsert("Environment", "dev", {"tier": "dev"})

    assert member_client.get("/catalog/environment/default/dev/edit/").status_code == 403
    assert member_client.post("/catalog/environment/default/dev/delete/").status_code == 403
    assert Entity.objects.filter(ref="environment:default/dev").exists()


def test_htmx_delete_redirects_the_client(admin_client, org):
    response = admin_client.post("/catalog/component/default/payments-api/delete/", HTTP_HX_REQUEST="true")

    assert response["HX-Redirect"] == "/catalog/"


@pytest.mark.parametrize(
    ("location_type", "target", "source_file", "expected"),
    [
        (
            "url",
            "https://github.com/acme/pay.git",
            "svc/catalog-info.yaml",
            "https://github.com/acme/pay/edit/HEAD/svc/catalog-info.yaml",
        ),
        (
            "url",
            "https://github.example.com/acme/pay",
            "catalog-info.yaml",
            "https://github.example.com/acme/pay/edit/HEAD/catalog-info.yaml",
        ),
        ("url", "http://github.com/acme/pay", "catalog-info.yaml", None),
        ("url", "https://user:token@github.com/acme/pay", "catalog-info.yaml", None),
        ("url", "https://gitlab.com/acme/pay", "catalog-info.yaml", None),
        ("url", "https://github.com/acme/pay", "../../etc/passwd", None),
        ("url", "/srv/git/pay.git", "catalog-info.yaml", None),
        ("upload", "catalog-info.yaml", "catalog-info.yaml", None),
    ],
)
def test_edit_this_file_links_only_to_github_over_https(location_type, target, source_file, expected):
    entity = Entity(source_file=source_file, location=Location(type=location_type, target=target))

    assert edit_file_url(entity) == expected
