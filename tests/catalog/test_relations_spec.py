import pytest

from catalog.refs import EntityRef, InvalidRef
from catalog.relations_spec import INVERSE, relations_for


def entity(kind, spec, *, namespace=None, api_version="backstage.io/v1alpha1"):
    metadata = {"name": "self"}
    if namespace:
        metadata["namespace"] = namespace
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, "spec": spec}


def as_text(relations):
    return [(relation, str(target)) for relation, target in relations]


def test_component_relations_use_backstage_default_kinds():
    spec = {
        "type": "service",
        "lifecycle": "production",
        "owner": "team-a",
        "subcomponentOf": "wayback-archive",
        "providesApis": ["petstore", "api:default/streetlights"],
        "consumesApis": ["wayback-archive"],
        "dependsOn": ["resource:artists-db", "queue-proxy"],
        "dependencyOf": ["component:www-artist"],
        "system": "podcast",
    }

    assert as_text(relations_for(entity("Component", spec))) == [
        ("ownedBy", "group:default/team-a"),
        ("partOf", "component:default/wayback-archive"),
        ("providesApi", "api:default/petstore"),
        ("providesApi", "api:default/streetlights"),
        ("consumesApi", "api:default/wayback-archive"),
        ("dependsOn", "resource:default/artists-db"),
        ("dependsOn", "component:default/queue-proxy"),
        ("dependencyOf", "component:default/www-artist"),
        ("partOf", "system:default/podcast"),
    ]


def test_relative_references_take_the_entity_namespace_and_explicit_ones_win():
    spec = {"type": "service", "lifecycle": "experimental", "owner": "team-a", "system": "default/podcast"}

    relations = relations_for(entity("Component", spec, namespace="alternative"))

    assert as_text(relations) == [
        ("ownedBy", "group:alternative/team-a"),
        ("partOf", "system:default/podcast"),
    ]


def test_an_owner_can_be_a_user():
    relations = relations_for(entity("Component", {"owner": "user:guest"}))

    assert relations == [("ownedBy", EntityRef("User", "default", "guest"))]


@pytest.mark.parametrize(
    ("kind", "spec", "expected"),
    [
        (
            "API",
            {"owner": "team-c", "system": "petstore"},
            [("ownedBy", "group:default/team-c"), ("partOf", "system:default/petstore")],
        ),
        (
            "Resource",
            {"owner": "team-a", "system": "artists", "dependsOn": ["resource:s3"], "dependencyOf": ["component:x"]},
            [
                ("ownedBy", "group:default/team-a"),
                ("dependsOn", "resource:default/s3"),
                ("dependencyOf", "component:default/x"),
                ("partOf", "system:default/artists"),
            ],
        ),
        (
            "System",
            {"owner": "team-b", "domain": "playback"},
            [("ownedBy", "group:default/team-b"), ("partOf", "domain:default/playback")],
        ),
        (
            "Domain",
            {"owner": "user:frank", "subdomainOf": "audio"},
            [("ownedBy", "user:default/frank"), ("partOf", "domain:default/audio")],
        ),
        (
            "Group",
            {"parent": "infrastructure", "children": ["team-a", "team-b"], "members": ["jdoe"]},
            [
                ("childOf", "group:default/infrastructure"),
                ("parentOf", "group:default/team-a"),
                ("parentOf", "group:default/team-b"),
                ("hasMember", "user:default/jdoe"),
            ],
        ),
        (
            "User",
            {"memberOf": ["team-a", "group:development/ops"]},
            [("memberOf", "group:default/team-a"), ("memberOf", "group:development/ops")],
        ),
        ("Location", {"targets": ["./a.yaml"]}, []),
    ],
)
def test_relations_of_each_builtin_kind(kind, spec, expected):
    assert as_text(relations_for(entity(kind, spec))) == expected


def test_templates_are_owned_by_their_owner():
    template = entity(
        "Template",
        {"owner": "backstage/maintainers", "type": "x", "steps": []},
        api_version="scaffolder.backstage.io/v1beta3",
    )

    assert as_text(relations_for(template)) == [("ownedBy", "group:backstage/maintainers")]


def test_custom_kinds_and_foreign_api_versions_declare_no_relations():
    assert relations_for(entity("Environment", {"owner": "team-a"})) == []
    assert relations_for(entity("Component", {"owner": "team-a"}, api_version="example.com/v1")) == []
    assert relations_for({"apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": {"name": "x"}}) == []


def test_duplicate_relations_are_returned_once():
    relations = relations_for(entity("Component", {"owner": "team-a", "providesApis": ["a", "api:a", "API:default/A"]}))

    assert as_text(relations) == [("ownedBy", "group:default/team-a"), ("providesApi", "api:default/a")]


def test_a_bad_reference_raises_naming_the_field():
    with pytest.raises(InvalidRef, match=r"spec\.providesApis\[1\]"):
        relations_for(entity("Component", {"owner": "team-a", "providesApis": ["ok", "api:"]}))


def test_inverse_covers_every_pair_both_ways():
    pairs = [
        ("ownedBy", "ownerOf"),
        ("partOf", "hasPart"),
        ("dependsOn", "dependencyOf"),
        ("providesApi", "apiProvidedBy"),
        ("consumesApi", "apiConsumedBy"),
        ("memberOf", "hasMember"),
        ("parentOf", "childOf"),
    ]

    for outgoing, incoming in pairs:
        assert INVERSE[outgoing] == incoming
        assert INVERSE[incoming] == outgoing
    assert len(INVERSE) == 14
