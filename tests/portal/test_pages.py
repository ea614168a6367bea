import pytest

from portal import services
from rbac.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_home_invites_anonymous_visitors_to_log_in(client):
    response = client.get("/")

    assert response.status_code == 200
    assert b"Log in to get started" in response.content


def test_home_shows_next_steps_to_a_member(member_client):
    response = member_client.get("/")

    assert response.status_code == 200
    assert b"What to do next" in response.content
    assert b"Log out" in response.content


def test_login_form_signs_in(client, member):
    response = client.post("/accounts/login/", {"username": "dev", "password": "dev-password"}, follow=True)

    assert response.redirect_chain[-1][0] == "/"
    assert response.context["user"] == member


def test_login_form_rejects_a_wrong_password_with_a_message(client, member):
    response = client.post("/accounts/login/", {"username": "dev", "password": "nope"})

    assert response.status_code == 200
    assert b"enter a correct username and password" in response.content


def test_unknown_page_is_a_friendly_404(member_client):
    response = member_client.get("/no/such/page/")

    assert response.status_code == 404
    assert b"couldn't find that page" in response.content


def test_admin_is_served(admin_client):
    assert admin_client.get("/admin/").status_code == 200


def test_api_schema_and_docs_are_served_with_local_assets(member_client):
    schema = member_client.get("/api/schema/")
    docs = member_client.get("/api/docs/")

    assert schema.status_code == 200
    assert b"openapi" in schema.content
    assert docs.status_code == 200
    assert b"/static/drf_spectacular_sidecar/swagger-ui-dist/" in docs.content
    assert b"cdn" not in docs.content.lower()


def test_api_schema_is_public_and_documents_both_ways_to_authenticate(client):
    response = client.get("/api/schema/", headers={"Accept": "application/json"})

    assert response.status_code == 200
    schemes = response.json()["components"]["securitySchemes"]
    assert {"cookieAuth", "tokenAuth"} <= set(schemes)


def test_profile_creates_an_api_token_that_authenticates_api_calls(member_client, client, member):
    response = member_client.post("/accounts/profile/")
    token = response.context["new_token"]

    assert token
    assert token.encode() in response.content
    assert AuditEvent.objects.filter(verb="api_token.rotate", actor=member).exists()
    client.logout()
    assert client.get("/api/schema/", headers={"Authorization": f"Token {token}"}).status_code == 200
    # A wrong token is refused rather than treated as anonymous.
    assert client.get("/api/schema/", headers={"Authorization": "Token nope"}).status_code == 401


def test_token_endpoint_exchanges_credentials_for_a_token(client, member):
    response = client.post("/api/auth/token/", {"username": "dev", "password": "dev-password"})

    assert response.status_code == 200
    assert len(response.json()["token"]) == 40


def test_handbook_pages_render_sanitised_markdown(member_client):
    index = member_client.get("/docs/")
    page = member_client.get("/docs/handbook/getting-started/")

    assert index.status_code == 200
    assert b"Getting started" in index.content
    assert page.status_code == 200
    assert b"<h1" in page.content
    assert member_client.get("/docs/handbook/..%2f..%2fsettings/").status_code == 404


def test_handbook_markdown_strips_scripts():
    from techdocs.handbook import render_markdown

    html = render_markdown("# Hi\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1))")

    assert "<script" not in html
    assert "javascript:" not in html


def test_admin_ensure_creates_one_admin_and_shows_a_generated_password_once():
    first = services.admin_ensure()
    second = services.admin_ensure()

    assert first.created
    assert first.password
    assert not second.created
    assert second.password is None
    assert second.username == "admin"


def test_admin_ensure_takes_credentials_from_the_caller(django_user_model):
    account = services.admin_ensure(username="root", password="s3cret-Passw0rd")

    assert account.created
    assert account.password is None
    assert django_user_model.objects.get(username="root").check_password("s3cret-Passw0rd")


def test_request_id_is_echoed_and_safe(client):
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"})["X-Request-ID"] == "abc-123"
    generated = client.get("/healthz", headers={"X-Request-ID": "bad id\nwith newline"})["X-Request-ID"]
    assert generated != "bad id\nwith newline"
    assert len(generated) == 32


def test_home_lists_my_services_in_a_constant_number_of_queries(member_client, django_assert_max_num_queries):
    from catalog.services import entity_upsert_descriptor

    def add(kind, name, spec):
        entity_upsert_descriptor(
            data={"apiVersion": "backstage.io/v1alpha1", "kind": kind, "metadata": {"name": name}, "spec": spec}
        )

    add("Group", "platform-team", {"type": "team", "children": [], "members": ["dev"]})
    add("User", "dev", {"memberOf": ["platform-team"]})
    for index in range(12):
        add("Component", f"svc-{index}", {"type": "service", "lifecycle": "production", "owner": "platform-team"})

    with django_assert_max_num_queries(12):
        response = member_client.get("/")

    assert b"My services" in response.content
    assert response.content.count(b"no deployment seen") == 12
