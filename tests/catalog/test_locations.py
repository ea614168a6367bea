"""Location pages and the location/ingest API, including who may do what."""

import pytest

from catalog.ingestion import location_refresh
from catalog.locations import location_register
from catalog.models import Entity, Location

pytestmark = pytest.mark.django_db

GOOD = (
    "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: payments\nspec:\n  type: service\n"
    "  lifecycle: production\n  owner: team-a\n"
)
BAD = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: 'no good'\nspec: {}\n"


def test_anonymous_visitors_are_sent_to_log_in(client):
    for url in ("/catalog/locations/", "/catalog/register/"):
        response = client.get(url)
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]


def test_anonymous_api_calls_are_refused(client):
    assert client.get("/api/catalog/locations/").status_code == 401
    assert client.post("/api/catalog/ingest/", {"content": GOOD}).status_code == 401


def test_pasting_a_file_registers_it_and_shows_the_results(member_client):
    response = member_client.post(
        "/catalog/register/", {"mode": "upload", "target": "pay", "content": GOOD}, follow=True
    )

    assert response.status_code == 200
    assert b"1 created" in response.content
    assert Entity.objects.get(name="payments").location.target == "pay"


def test_a_bad_file_shows_the_problem_with_its_line(member_client):
    response = member_client.post(
        "/catalog/register/", {"mode": "upload", "target": "bad", "content": BAD}, follow=True
    )

    assert b"is not valid" in response.content
    assert b'data-testid="location-problems"' in response.content
    assert not Entity.objects.exists()


def test_registering_a_repository_queues_its_refresh(member_client, git_repo, django_capture_on_commit_callbacks):
    git_repo({"catalog-info.yaml": GOOD})

    with django_capture_on_commit_callbacks() as callbacks:
        response = member_client.post("/catalog/register/", {"mode": "url", "target": git_repo.url, "path": ""})

    location = Location.objects.get()
    assert response.status_code == 302
    assert location.status == Location.Status.PENDING
    assert len(callbacks) == 1
    status = member_client.get(f"/catalog/locations/{location.pk}/?part=status", headers={"HX-Request": "true"})
    assert status.status_code == 200, "still pending: keep polling"

    from catalog.tasks import refresh_location

    refresh_location(location.pk)

    status = member_client.get(f"/catalog/locations/{location.pk}/?part=status", headers={"HX-Request": "true"})
    assert status.status_code == 286, "finished: htmx stops polling"
    assert Entity.objects.filter(name="payments").exists()


def test_an_internal_url_is_refused_at_the_field(member_client):
    response = member_client.post("/catalog/register/", {"mode": "url", "target": "http://169.254.169.254/x.git"})

    assert response.status_code == 200
    assert b"field--error" in response.content
    assert not Location.objects.exists()


def test_only_the_registrant_or_staff_may_delete(member_client, client, django_user_model, admin_client):
    other = django_user_model.objects.create_user(username="other", password="x")
    location = location_register(actor=other, type="upload", target="theirs", content=GOOD)
    location_refresh(location=location)

    assert member_client.get(f"/catalog/locations/{location.pk}/delete/").status_code == 403
    confirm = admin_client.get(f"/catalog/locations/{location.pk}/delete/")
    assert b"Delete location and 1 entities" in confirm.content

    admin_client.post(f"/catalog/locations/{location.pk}/delete/")

    assert not Location.objects.exists()
    assert not Entity.objects.exists()


def test_the_locations_page_lists_status_and_counts(member_client, django_assert_max_num_queries):
    for index in range(5):
        location_refresh(
            location=location_register(
                actor=None, type="upload", target=f"f{index}", content=GOOD.replace("payments", f"svc-{index}")
            )
        )

    with django_assert_max_num_queries(8):
        response = member_client.get("/catalog/locations/")

    assert response.content.count(b"Up to date") == 5


def test_api_ingest_returns_per_document_results(member_client):
    response = member_client.post(
        "/api/catalog/ingest/", {"name": "api", "content": GOOD + "---\n" + BAD}, content_type="application/json"
    )

    body = response.json()
    assert response.status_code == 400
    assert [r["outcome"] for r in body["results"]] == ["error", "created"] or [
        r["outcome"] for r in body["results"]
    ] == ["created", "error"]
    error = next(r for r in body["results"] if r["outcome"] == "error")
    assert error["line"] == 10
    assert error["document"] == 2
    assert Entity.objects.filter(name="payments").exists()


def test_api_registers_refreshes_and_deletes_a_repository(member_client, git_repo):
    git_repo({"catalog-info.yaml": GOOD})

    created = member_client.post("/api/catalog/locations/", {"target": git_repo.url}, content_type="application/json")
    pk = created.json()["id"]
    refreshed = member_client.post(
        f"/api/catalog/locations/{pk}/refresh/", {"wait": True}, content_type="application/json"
    )
    detail = member_client.get(f"/api/catalog/locations/{pk}/")
    deleted = member_client.delete(f"/api/catalog/locations/{pk}/")

    assert created.status_code == 201
    assert refreshed.json()["results"][0]["outcome"] == "created"
    assert detail.json()["entity_count"] == 1
    assert deleted.status_code == 204
    assert not Entity.objects.exists()


def test_api_refuses_an_internal_url_with_a_field_error(member_client):
    response = member_client.post(
        "/api/catalog/locations/", {"target": "https://10.1.2.3/x.git"}, content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["target"]
