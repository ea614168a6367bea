import pytest

from catalog.refs import EntityRef, InvalidRef, parse_ref, ref_of


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("team-a", EntityRef("Group", "default", "team-a")),
        ("user:guest", EntityRef("user", "default", "guest")),
        ("alternative/team-a", EntityRef("Group", "alternative", "team-a")),
        ("group:alternative/team-a", EntityRef("group", "alternative", "team-a")),
        ("airesource:default/security-review", EntityRef("airesource", "default", "security-review")),
    ],
)
def test_parse_ref_accepts_every_string_form(text, expected):
    assert parse_ref(text, default_kind="Group") == expected


def test_parse_ref_fills_in_the_default_namespace_given():
    ref = parse_ref("team-a", default_kind="Group", default_namespace="alternative")

    assert str(ref) == "group:alternative/team-a"


def test_parse_ref_accepts_the_object_form():
    ref = parse_ref({"kind": "Component", "namespace": "payments", "name": "api"})

    assert ref == EntityRef("Component", "payments", "api")
    assert parse_ref({"name": "api"}, default_kind="Component").namespace == "default"


def test_a_slash_before_the_colon_keeps_the_colon_in_the_name():
    ref = parse_ref("ns/odd:name", default_kind="Component")

    assert (ref.namespace, ref.name) == ("ns", "odd:name")


def test_parse_ref_without_kind_or_default_kind_says_so():
    with pytest.raises(InvalidRef, match="has no kind"):
        parse_ref("team-a")


@pytest.mark.parametrize("text", ["group:", ":team-a", "team-a/", "/team-a", "group:ns/", "", "   "])
def test_parse_ref_rejects_empty_parts(text):
    with pytest.raises(InvalidRef):
        parse_ref(text, default_kind="Group")


@pytest.mark.parametrize("value", [None, 12, ["team-a"], {"kind": 1, "name": "x"}])
def test_parse_ref_rejects_values_that_are_not_references(value):
    with pytest.raises(InvalidRef):
        parse_ref(value, default_kind="Group")


def test_string_form_is_lowercased_like_backstage_and_display_keeps_the_spelling():
    ref = EntityRef("Component", "Default", "Payments-API")

    assert str(ref) == "component:default/payments-api"
    assert ref.display == "Component:Default/Payments-API"


def test_references_compare_without_regard_to_case():
    assert EntityRef("Group", "default", "Team-A") == EntityRef("group", "default", "team-a")
    assert len({EntityRef("Group", "default", "Team-A"), EntityRef("group", "default", "team-a")}) == 1
    assert EntityRef("Group", "default", "a") != EntityRef("User", "default", "a")


def test_ref_of_reads_kind_namespace_and_name():
    data = {"kind": "Component", "metadata": {"name": "petstore", "namespace": "shop"}}

    assert ref_of(data) == EntityRef("Component", "shop", "petstore")
    assert ref_of({"kind": "API", "metadata": {"name": "x"}}).namespace == "default"


@pytest.mark.parametrize(
    "data",
    [{"kind": "API"}, {"kind": "API", "metadata": {}}, {"metadata": {"name": "x"}}, {"kind": "API", "metadata": []}],
)
def test_ref_of_rejects_entities_without_identity(data):
    with pytest.raises(InvalidRef):
        ref_of(data)
