import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from catalog.models import Blueprint, Entity
from catalog.services import entity_upsert_descriptor
from rbac.models import AuditEvent

pytestmark = pytest.mark.django_db


def upsert(kind, name, spec=None, **metadata):
    data = {"apiVersion": "backstage.io/v1alpha1", "kind": kind, "metadata": {"name": name, **metadata}, "spec": spec}
    return entity_upsert_descriptor(data=data).entity


def component(name, *, owner="team-a", tags=(), **spec):
    spec = {"type": "service", "lifecycle": "production", "owner": owner, **spec}
    return upsert("Component", name, spec, tags=list(tags))


@pytest.fixture
def org():
    upsert("Group", "team-a", {"type": "team", "children": []})
    upsert("Group", "team-b", {"type": "team", "children": []})
    component("payments-api", system="payments", dependsOn=["component:ledger"], tags=["python"])
    component("ledger", owner="team-b", lifecycle="experimental")


ENDPOINTS = [
    ("get", "/api/catalog/entities/"),
    ("get", "/api/catalog/blueprints/"),
    ("get", "/api/catalog/entities/by-ref/component:payments-api/"),
    ("get", "/api/catalog/relations/?entity=component:payments-api"),
    ("post", "/api/catalog/entities/"),
    ("post", "/api/catalog/blueprints/"),
]


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_anonymous_clients_get_401(org, method, url):
    response = getattr(APIClient(), method)(url, {}, format="json")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")


def test_a_token_reads_the_catalog(org, member):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=member).key}")

    assert client.get("/api/catalog/entities/").status_code == 200


def test_list_filters_like_the_index_page(api, org):
    def names(**params):
        return [row["name"] for row in api.get("/api/catalog/entities/", params).json()["results"]]

    assert names(kind="component") == ["ledger", "payments-api"]
    assert names(owner="team-b") == ["ledger"]
    assert names(lifecycle="experimental") == ["ledger"]
    assert names(tag="python") == ["payments-api"]
    assert names(q="pay") == ["payments-api"]
    assert names(kind="component", sort="-name") == ["payments-api", "ledger"]
    assert api.get("/api/catalog/entities/", {"sort": "sideways"}).status_code == 400


def test_list_pages_up_to_500(api, org):
    page = api.get("/api/catalog/entities/", {"page_size": 2}).json()
    capped = api.get("/api/catalog/entities/", {"page_size": 10_000}).json()

    assert (page["count"], len(page["results"]), page["next"] is not None) == (4, 2, True)
    assert len(capped["results"]) == 4
    assert "descriptor" not in page["results"][0]


@pytest.mark.parametrize("count", [10, 60])
def test_list_costs_the_same_queries_whatever_the_size(api, django_assert_max_num_queries, count):
    upsert("Group", "team-a", {"type": "team", "children": []})
    for number in range(count):
        component(f"svc-{number:03}")

    with django_assert_max_num_queries(2):
        response = api.get("/api/catalog/entities/", {"page_size": 100, "owner": "team-a"})

    assert len(response.json()["results"]) == count


def test_retrieve_by_id_and_by_ref(api, org):
    entity = Entity.objects.get(name="payments-api")

    by_id = api.get(f"/api/catalog/entities/{entity.pk}/").json()
    by_ref = api.get("/api/catalog/entities/by-ref/component:default/payments-api/").json()
    short = api.get("/api/catalog/entities/by-ref/Component:payments-api/").json()

    assert by_id == by_ref == short
    assert by_id["ref"] == "component:default/payments-api"
    assert by_id["owner"] == "group:default/team-a"
    assert by_id["descriptor"]["spec"]["system"] == "payments"
    assert api.get("/api/catalog/entities/by-ref/component:default/nope/").status_code == 404
    assert api.get("/api/catalog/entities/999999/").status_code == 404


def test_relations_list_both_directions(api, org):
    entity = Entity.objects.get(name="ledger")

    by_id = api.get(f"/api/catalog/entities/{entity.pk}/relations/").json()
    by_query = api.get("/api/catalog/relations/", {"entity": "component:ledger"}).json()
    payments = api.get("/api/catalog/relations/", {"entity": "component:default/payments-api"}).json()

    assert by_id == by_query
    groups = {group["type"]: group for group in by_id["relations"]}
    assert groups["dependencyOf"]["items"][0]["ref"] == "component:default/payments-api"
    assert groups["dependencyOf"]["items"][0]["direction"] == "incoming"
    assert groups["ownedBy"]["items"][0]["direction"] == "outgoing"
    system = next(group for group in payments["relations"] if group["type"] == "partOf")["items"][0]
    assert (system["ref"], system["resolved"], system["id"]) == ("system:default/payments", False, None)
    assert api.get("/api/catalog/relations/").status_code == 400
    assert api.get("/api/catalog/relations/", {"entity": "component:nope"}).status_code == 404


def test_create_from_a_descriptor_and_from_fields(admin_api, org):
    descriptor = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "billing", "description": "Sends invoices"},
        "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"},
    }
    from_descriptor = admin_api.post("/api/catalog/entities/", descriptor, format="json")
    from_fields = admin_api.post(
        "/api/catalog/entities/",
        {"kind": "System", "name": "billing-system", "title": "Billing", "properties": {"owner": "team-a"}},
        format="json",
    )

    assert from_descriptor.status_code == 201, from_descriptor.json()
    assert from_descriptor.json()["ref"] == "component:default/billing"
    assert from_fields.status_code == 201, from_fields.json()
    assert from_fields.json()["title"] == "Billing"
    assert AuditEvent.objects.filter(verb="entity.create", target_repr="Component:billing").exists()


def test_create_refusals_are_400_with_the_reasons(admin_api, org):
    missing_owner = admin_api.post(
        "/api/catalog/entities/",
        {"kind": "Component", "name": "x", "properties": {"type": "service", "lifecycle": "production"}},
        format="json",
    )
    duplicate = admin_api.post(
        "/api/catalog/entities/",
        {"kind": "Group", "name": "team-a", "properties": {"type": "team", "children": []}},
        format="json",
    )
    no_name = admin_api.post("/api/catalog/entities/", {"kind": "Group"}, format="json")

    assert missing_owner.status_code == 400
    assert "spec.owner is required" in str(missing_owner.json()["errors"])
    assert duplicate.status_code == 400
    assert duplicate.json()["errors"] == {"name": ["group:default/team-a exists already."]}
    assert no_name.status_code == 400
    assert "name" in no_name.json()


def test_members_may_read_but_not_write(api, org):
    entity = Entity.objects.get(name="ledger")

    assert api.post("/api/catalog/entities/", {"kind": "Group", "name": "g"}, format="json").status_code == 403
    assert api.patch(f"/api/catalog/entities/{entity.pk}/", {"title": "x"}, format="json").status_code == 403
    assert api.delete("/api/catalog/entities/by-ref/component:ledger/").status_code == 403
    assert api.post("/api/catalog/blueprints/", {"identifier": "x", "title": "X"}, format="json").status_code == 403
    assert api.delete("/api/catalog/blueprints/component/").status_code == 403
    assert Entity.objects.filter(name="ledger", title="").exists()


def test_update_by_id_and_by_ref_then_delete(admin_api, org):
    entity = Entity.objects.get(name="ledger")

    patched = admin_api.patch(
        f"/api/catalog/entities/{entity.pk}/",
        {"title": "Ledger", "lifecycle": "deprecated", "labels": {"tier": "1"}},
        format="json",
    )
    by_ref = admin_api.patch(
        "/api/catalog/entities/by-ref/component:ledger/", {"properties": {"owner": "team-a"}}, format="json"
    )
    unknown = admin_api.patch(f"/api/catalog/entities/{entity.pk}/", {"tags": ["Not A Tag"]}, format="json")
    deleted = admin_api.delete("/api/catalog/entities/by-ref/component:default/ledger/")

    assert patched.status_code == 200
    assert (patched.json()["title"], patched.json()["lifecycle"], patched.json()["labels"]) == (
        "Ledger",
        "deprecated",
        {"tier": "1"},
    )
    assert by_ref.json()["owner"] == "group:default/team-a"
    assert unknown.status_code == 400
    assert "tags" in str(unknown.json())
    assert deleted.status_code == 204
    assert not Entity.objects.filter(name="ledger").exists()


def test_blueprint_crud_by_identifier_with_misfits(admin_api):
    created = admin_api.post(
        "/api/catalog/blueprints/",
        {
            "identifier": "environment",
            "title": "Environment",
            "schema": {"type": "object", "properties": {"tier": {"type": "string"}}},
        },
        format="json",
    )
    upsert("Environment", "dev", {"tier": "dev"})
    changed = admin_api.patch(
        "/api/catalog/blueprints/environment/",
        {"schema": {"type": "object", "properties": {"tier": {"enum": ["prod"]}}}},
        format="json",
    )
    listed = admin_api.get("/api/catalog/blueprints/").json()["results"]
    in_use = admin_api.delete("/api/catalog/blueprints/environment/")

    assert created.status_code == 201, created.json()
    assert changed.status_code == 200
    assert changed.json()["misfits"][0]["ref"] == "environment:default/dev"
    assert "tier" in changed.json()["misfits"][0]["errors"][0]
    assert next(row for row in listed if row["identifier"] == "environment")["entity_count"] == 1
    assert in_use.status_code == 400
    assert "still has 1 entities" in in_use.json()["detail"]


def test_blueprint_errors_are_400_by_field(admin_api):
    bad = admin_api.post(
        "/api/catalog/blueprints/",
        {"identifier": "component", "title": "C", "schema": {"type": "string"}, "relations": [{"identifier": "x"}]},
        format="json",
    )
    builtin = admin_api.delete("/api/catalog/blueprints/component/")

    assert bad.status_code == 400
    errors = bad.json()["errors"]
    assert set(errors) == {"schema", "relations", "identifier"}
    assert builtin.status_code == 400
    assert Blueprint.objects.filter(identifier="component").exists()


def test_the_schema_documents_the_catalog_endpoints_with_examples(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    paths = schema["paths"]
    for path in (
        "/api/catalog/entities/",
        "/api/catalog/entities/{id}/",
        "/api/catalog/entities/{id}/relations/",
        "/api/catalog/entities/by-ref/{kind}:{namespace}/{name}/",
        "/api/catalog/entities/by-ref/{kind}:{name}/",
        "/api/catalog/relations/",
        "/api/catalog/blueprints/",
        "/api/catalog/blueprints/{identifier}/",
    ):
        assert path in paths
    parameters = {parameter["name"] for parameter in paths["/api/catalog/entities/"]["get"]["parameters"]}
    assert {"q", "kind", "type", "owner", "lifecycle", "tag", "namespace", "sort", "page", "page_size"} <= parameters
    examples = paths["/api/catalog/entities/"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    assert len(examples) == 2
