import xml.etree.ElementTree as ET

import pytest

from catalog import selectors
from catalog.graph import MAX_NODES, layout, relations_svg
from catalog.services import entity_upsert_descriptor

pytestmark = pytest.mark.django_db
SVG = "{http://www.w3.org/2000/svg}"


def upsert(kind, name, spec, **metadata):
    data = {"apiVersion": "backstage.io/v1alpha1", "kind": kind, "metadata": {"name": name, **metadata}, "spec": spec}
    return entity_upsert_descriptor(data=data).entity


def component(name, **spec):
    return upsert("Component", name, {"type": "service", "lifecycle": "production", "owner": "team-a", **spec})


def test_the_graph_is_valid_svg_with_the_entity_in_the_middle_and_links_around(member):
    upsert("Group", "team-a", {"type": "team", "children": []}, title='<script>alert("x")</script>')
    entity = component("payments-api", dependsOn=["component:ghost", "ledger"])
    component("ledger")

    svg = relations_svg(entity, selectors.entity_relations(entity, user=member))
    root = ET.fromstring(svg)

    assert root.tag == f"{SVG}svg"
    links = sorted(a.get("href") for a in root.iter(f"{SVG}a"))
    assert links == ["/catalog/component/default/ledger/", "/catalog/group/default/team-a/"]
    labels = [text.text for text in root.iter(f"{SVG}text")]
    assert "payments-api" in labels
    assert {"dependsOn", "ownedBy"} <= set(labels)
    assert "ghost" in labels  # unresolved: drawn, not linked
    assert "<script>" not in svg
    centre = root.find(f"{SVG}g[@class='graph-node graph-node--centre']/{SVG}rect")
    assert (float(centre.get("x")) + 75, float(centre.get("y")) + 20) == (380.0, 260.0)


def test_no_relations_no_picture(member):
    upsert("Group", "lonely", {"type": "team", "children": []})
    entity = selectors.entity_get(user=member, kind="group", namespace="default", name="lonely")

    assert relations_svg(entity, selectors.entity_relations(entity, user=member)) == ""


def test_a_busy_entity_shows_at_most_max_nodes_around_it(member):
    upsert("Group", "team-a", {"type": "team", "children": []})
    team = selectors.entity_get(user=member, kind="group", namespace="default", name="team-a")
    for number in range(MAX_NODES + 5):
        component(f"svc-{number:02}")

    nodes, edges = layout(team, selectors.entity_relations(team, user=member))

    assert len(nodes) == MAX_NODES + 1
    assert len(edges) == MAX_NODES
    assert len({(node.x, node.y) for node in nodes}) == len(nodes)  # nobody drawn on top of another
