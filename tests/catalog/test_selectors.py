import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.http import Http404

from catalog import selectors
from catalog.services import entity_delete, entity_upsert_descriptor
from tests.helpers import skip_unless_available

pytestmark = pytest.mark.django_db


def upsert(kind, name, spec=None, *, namespace=None, **metadata):
    metadata = {"name": name, **metadata}
    if namespace:
        metadata["namespace"] = namespace
    data = {"apiVersion": "backstage.io/v1alpha1", "kind": kind, "metadata": metadata, "spec": spec or {}}
    return entity_upsert_descriptor(data=data).entity


def component(name, *, owner="team-a", type="service", lifecycle="production", **extra):
    spec = {"type": type, "lifecycle": lifecycle, "owner": owner, **extra.pop("spec", {})}
    return upsert("Component", name, spec, **extra)


def refs(entities):
    return sorted(entity.ref for entity in entities)


@pytest.fixture
def catalog():
    upsert("Group", "team-a", {"type": "team", "children": []})
    upsert("Group", "team-b", {"type": "team", "children": []})
    component("payments-api", tags=["python", "payments"], description="Takes card payments")
    component("ledger", owner="group:default/team-b", type="library", lifecycle="experimental", tags=["java"])
    component("checkout-web", type="website", namespace="shop", title="Checkout", owner="group:default/team-a")
    upsert("Resource", "payments-db", {"type": "database", "owner": "team-a"})


def test_filters_select_by_each_field(member, catalog):
    def listed(**filters):
        return refs(selectors.entity_list(user=member, filters=filters))

    assert listed(kind="component") == [
        "component:default/ledger",
        "component:default/payments-api",
        "component:shop/checkout-web",
    ]
    assert listed(kind="Component", type="library") == ["component:default/ledger"]
    assert listed(owner="team-b") == ["component:default/ledger"]
    assert listed(owner="group:default/team-b") == ["component:default/ledger"]
    assert listed(lifecycle="experimental") == ["component:default/ledger"]
    assert listed(tag="python") == ["component:default/payments-api"]
    assert listed(namespace="shop") == ["component:shop/checkout-web"]
    assert listed(q="card") == ["component:default/payments-api"]
    assert listed(q="pay") == ["component:default/payments-api", "resource:default/payments-db"]
    assert listed(q="checkout", kind="component", owner="team-a") == ["component:shop/checkout-web"]
    assert listed(q="nothing-like-it") == []


def test_sorting_by_name_kind_and_update(member, catalog):
    by_name = [entity.name for entity in selectors.entity_list(user=member, filters={"sort": "name"})]
    by_name_desc = [entity.name for entity in selectors.entity_list(user=member, filters={"sort": "-name"})]
    newest_first = selectors.entity_list(user=member, filters={"sort": "-updated"}).first()

    assert by_name == sorted(by_name)
    assert by_name_desc == sorted(by_name, reverse=True)
    assert newest_first.name == "payments-db"


def test_nothing_is_visible_to_anonymous_visitors(catalog):
    assert selectors.entity_list(user=AnonymousUser(), filters={}).count() == 0
    with pytest.raises(Http404):
        selectors.entity_get(user=AnonymousUser(), kind="component", namespace="default", name="ledger")


def test_kind_counts_ignore_the_kind_filter_and_follow_the_others(member, catalog):
    counts = {row["kind"]: row["count"] for row in selectors.kind_counts(user=member, filters={"kind": "group"})}
    owned_by_a = selectors.kind_counts(user=member, filters={"owner": "team-a"})

    assert counts == {"Component": 3, "Group": 2, "Resource": 1}
    assert {row["kind"]: row["count"] for row in owned_by_a} == {"Component": 2, "Resource": 1}


def test_facet_values_list_what_is_in_use(member, catalog):
    facets = selectors.facet_values(user=member)

    assert facets["type"] == ["database", "library", "service", "team", "website"]
    assert facets["lifecycle"] == ["experimental", "production"]
    assert facets["namespace"] == ["default", "shop"]
    assert facets["owner"] == ["group:default/team-a", "group:default/team-b"]


def test_entity_get_reads_any_case_and_404s_when_missing(member, catalog):
    entity = selectors.entity_get(user=member, kind="Component", namespace="shop", name="Checkout-Web")

    assert entity.title == "Checkout"
    assert selectors.entity_get_by_ref(user=member, ref="component:ledger").name == "ledger"
    with pytest.raises(Http404):
        selectors.entity_get(user=member, kind="component", namespace="default", name="missing")
    with pytest.raises(Http404):
        selectors.entity_get_by_ref(user=member, ref="::")


def test_relations_show_both_directions_and_unresolved_targets(member):
    team = upsert("Group", "team-a", {"type": "team", "children": [], "members": ["alice"]})
    upsert("User", "alice", {"memberOf": ["team-a"]})
    api = component("payments-api", spec={"dependsOn": ["component:ghost"], "system": "payments"})

    groups = {group.type: group for group in selectors.entity_relations(api, user=member)}
    team_groups = {group.type: group for group in selectors.entity_relations(team, user=member)}

    assert [row.ref for row in groups["ownedBy"].rows] == ["group:default/team-a"]
    assert groups["ownedBy"].rows[0].entity == team
    ghost = groups["dependsOn"].rows[0]
    assert (ghost.ref, ghost.resolved, ghost.display_ref) == ("component:default/ghost", False, "component:ghost")
    assert not groups["partOf"].rows[0].resolved
    assert [row.entity for row in team_groups["ownerOf"].rows] == [api]
    assert team_groups["ownerOf"].rows[0].outgoing is False
    # alice is a member both ways (the group lists her, she says she is a member): shown once.
    assert [row.ref for row in team_groups["hasMember"].rows] == ["user:default/alice"]


def test_an_unresolved_target_resolves_when_it_arrives_and_unresolves_when_it_goes(member):
    api = component("payments-api", spec={"dependsOn": ["component:ghost"]})
    ghost = component("ghost")

    depends = next(g for g in selectors.entity_relations(api, user=member) if g.type == "dependsOn")
    incoming = next(g for g in selectors.entity_relations(ghost, user=member) if g.type == "dependencyOf")
    assert depends.rows[0].entity == ghost
    assert incoming.rows[0].entity == api

    entity_delete(actor=None, entity=ghost)
    depends = next(g for g in selectors.entity_relations(api, user=member) if g.type == "dependsOn")
    assert not depends.rows[0].resolved


def test_relation_rows_are_capped_per_type_and_counted(member, django_assert_max_num_queries):
    team = upsert("Group", "team-a", {"type": "team", "children": []})
    for number in range(7):
        component(f"service-{number}")

    with django_assert_max_num_queries(4):
        groups = selectors.entity_relations(team, user=member, per_type=5)

    (owner_of,) = groups
    assert (owner_of.type, len(owner_of.rows), owner_of.total, owner_of.more) == ("ownerOf", 5, 7, 2)


def test_owner_entities_lists_what_a_group_owns(member, catalog):
    team = selectors.entity_get(user=member, kind="group", namespace="default", name="team-a")

    assert refs(selectors.owner_entities(user=member, entity=team)) == [
        "component:default/payments-api",
        "component:shop/checkout-web",
        "resource:default/payments-db",
    ]


def test_search_finds_prefixes_across_names_titles_descriptions_and_tags(member, catalog):
    def found(query):
        return refs(selectors.entity_search(user=member, query=query, limit=10))

    assert found("pay") == ["component:default/payments-api", "resource:default/payments-db"]
    assert found("Checkout") == ["component:shop/checkout-web"]
    assert found("card payments") == ["component:default/payments-api"]
    assert found("java") == ["component:default/ledger"]
    assert found("") == []
    assert found("'&|!():*") == []  # tsquery syntax is dropped, not passed through
    assert len(selectors.entity_search(user=member, query="team", limit=1)) == 1


def test_search_ranks_closer_matches_first(member):
    component("payments", description="the payments service")
    component("ledger", description="keeps accounts; feeds payments reports")

    results = selectors.entity_search(user=member, query="payments", limit=5)

    assert [entity.name for entity in results] == ["payments", "ledger"]


def test_search_uses_the_gin_index_on_postgresql(member, catalog):
    if connection.vendor != "postgresql":
        skip_unless_available("PostgreSQL is needed to check the full-text index (set DATABASE_URL)")
    queryset = selectors.filter_text(selectors.entities_visible(user=member), "pay")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        sql, params = queryset.query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "catalog_entity_search_gin" in plan
