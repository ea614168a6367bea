"""Pages: the action list, the form (inline errors through HTMX, hostile inputs), run pages and the Runs tab."""

import pytest
from django.urls import reverse

from catalog.models import Entity
from scaffolder import engine
from scaffolder.models import ActionRun
from scaffolder.services import run_request
from tests.scaffolder.conftest import SERVICE_INPUTS

pytestmark = pytest.mark.django_db


def _post_form(client, identifier, data, **extra):
    return client.post(reverse("scaffolder:action", args=[identifier]), data, **extra)


@pytest.mark.parametrize(
    "url",
    ["/create/", "/create/python-service/", "/runs/", "/catalog/component/default/payments-api/runs/"],
)
def test_anonymous_is_sent_to_login(client, shipped_actions, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_create_page_lists_create_actions(member_client, shipped_actions):
    response = member_client.get("/create/")
    assert response.status_code == 200
    assert b"Create a Python web service" in response.content
    assert b'href="/create/python-service/"' in response.content


def test_form_offers_only_my_teams_as_owner(member_client, team, shipped_actions):
    response = member_client.get("/create/python-service/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'value="group:default/team-a"' in page
    assert 'value="group:default/team-b"' not in page
    assert 'value="system:default/payments"' in page


def test_form_run_creates_run_and_redirects(member_client, member, team, shipped_actions, repos_dir):
    response = _post_form(member_client, "python-service", {**SERVICE_INPUTS, "run": "1"})
    assert response.status_code == 302
    run = ActionRun.objects.get()
    assert response["Location"] == f"/runs/{run.pk}/"
    assert run.requested_by == member
    assert run.inputs["port"] == 8000
    assert not run.dry_run


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "../../etc", "must be"),
        ("name", "Payments API", "must be"),
        ("description", "${{ secrets.token }}", "Template expressions"),
        ("description", "{% for x in range(99) %}x{% endfor %}", "Template expressions"),
        ("owner", "group:default/team-b", "not one of your teams"),
        ("owner", "group:default/nobody", "not in the catalog"),
    ],
)
def test_hostile_inputs_are_rejected_at_the_field(member_client, team, shipped_actions, field, value, message):
    response = _post_form(member_client, "python-service", {**SERVICE_INPUTS, field: value, "run": "1"})
    assert response.status_code == 400
    assert not ActionRun.objects.exists()
    page = response.content.decode()
    error_block = page.split(f'id="field-{field}"', 1)[1].split("</div>", 1)[0]
    assert message.lower() in error_block.lower()


def test_validate_endpoint_returns_one_field_with_its_errors(member_client, team, shipped_actions):
    response = member_client.post(
        "/create/python-service/validate/?field=name", {**SERVICE_INPUTS, "name": "x"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert page.strip().startswith('<div class="field field--error" id="field-name"')
    assert "field__errors" in page
    assert 'id="field-owner"' not in page


def test_a_field_checked_while_the_person_types_elsewhere_does_not_take_the_focus(member_client, team, shipped_actions):
    form = member_client.get("/create/python-service/").content.decode()
    swapped = member_client.post(
        "/create/python-service/validate/?field=name", {**SERVICE_INPUTS, "name": "x"}, HTTP_HX_REQUEST="true"
    ).content.decode()

    assert "autofocus" in form.split('id="field-name"', 1)[1].split("</div>", 1)[0]
    assert "autofocus" not in swapped


def test_run_page_polls_until_finished(member_client, member, team, shipped_actions, repos_dir):
    run = run_request(actor=member, action=shipped_actions["python-service"], inputs=SERVICE_INPUTS)
    live = member_client.get(f"/runs/{run.pk}/?live=1", HTTP_HX_REQUEST="true")
    assert live.status_code == 200
    assert b'hx-trigger="every 1s"' in live.content
    engine.execute_run(run.pk)
    finished = member_client.get(f"/runs/{run.pk}/?live=1", HTTP_HX_REQUEST="true")
    assert finished.status_code == 286
    assert b"Succeeded" in finished.content
    page = member_client.get(f"/runs/{run.pk}/")
    assert b"/catalog/component/default/payments-api/" in page.content
    assert b"Open in catalog" in page.content


def test_dry_run_page_shows_files_and_diff(member_client, member, team, shipped_actions, repos_dir):
    run = run_request(actor=member, action=shipped_actions["python-service"], inputs=SERVICE_INPUTS, dry_run=True)
    engine.execute_run(run.pk)
    page = member_client.get(f"/runs/{run.pk}/").content.decode()
    assert "Rendered files" in page
    assert "gitops/apps/payments-api/deployment.yaml" in page
    assert "+kind: Deployment" in page


def test_runs_of_others_are_hidden_from_members(client, django_user_model, member, team, shipped_actions, admin_client):
    run = run_request(actor=member, action=shipped_actions["python-service"], inputs=SERVICE_INPUTS)
    other = django_user_model.objects.create_user(username="other", password="x")
    client.force_login(other)
    assert client.get(f"/runs/{run.pk}/").status_code == 404
    assert client.post(f"/runs/{run.pk}/cancel/").status_code == 404
    assert b"#%d" % run.pk not in client.get("/runs/").content
    assert admin_client.get(f"/runs/{run.pk}/").status_code == 200
    assert b"#%d" % run.pk in admin_client.get("/runs/?scope=all").content


def test_cancel_and_rerun(member_client, member, team, shipped_actions, repos_dir):
    run = run_request(actor=member, action=shipped_actions["python-service"], inputs=SERVICE_INPUTS)
    member_client.post(f"/runs/{run.pk}/cancel/")
    run.refresh_from_db()
    assert run.status == ActionRun.Status.CANCELLED
    assert engine.execute_run(run.pk) == "not claimed"
    response = member_client.post(f"/runs/{run.pk}/retry/")
    again = ActionRun.objects.exclude(pk=run.pk).get()
    assert response["Location"] == f"/runs/{again.pk}/"
    assert again.inputs == run.inputs
    assert again.retry_of == run


def test_day2_action_from_the_runs_tab(member_client, member, team, shipped_actions, repos_dir):
    created = run_request(actor=member, action=shipped_actions["python-service"], inputs=SERVICE_INPUTS)
    engine.execute_run(created.pk)
    tab = member_client.get("/catalog/component/default/payments-api/runs/")
    assert tab.status_code == 200
    assert b"/create/deprecate-service/?entity=component%3Adefault/payments-api" in tab.content
    form = member_client.get("/create/deprecate-service/?entity=component:default/payments-api")
    assert form.status_code == 200
    response = member_client.post(
        "/create/deprecate-service/",
        {"entity": "component:default/payments-api", "reason": "Replaced by payments-v2.", "run": "1"},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    run = ActionRun.objects.get(action__identifier="deprecate-service")
    assert engine.execute_run(run.pk) == "succeeded", run.error
    assert Entity.objects.get(ref="component:default/payments-api").lifecycle == "deprecated"


def test_pages_make_a_constant_number_of_queries(
    member_client, member, team, shipped_actions, repos_dir, django_assert_max_num_queries
):
    runs = [
        run_request(actor=member, action=shipped_actions["python-service"], inputs=SERVICE_INPUTS, dry_run=True)
        for _ in range(3)
    ]
    engine.execute_run(runs[0].pk)
    for _ in range(20):
        run_request(actor=member, action=shipped_actions["python-service"], inputs=SERVICE_INPUTS, dry_run=True)
    pages = {
        "/create/": 8,
        "/runs/": 8,
        f"/runs/{runs[0].pk}/": 10,
        f"/runs/{runs[0].pk}/?live=1": 10,
        "/catalog/group/default/team-a/runs/": 14,
    }
    for url, limit in pages.items():
        with django_assert_max_num_queries(limit):
            response = member_client.get(url, HTTP_HX_REQUEST="true" if "live" in url else None)
        assert response.status_code in (200, 286), url


def test_validate_swaps_fields_that_depend_on_the_changed_one(member_client, shipped_actions):
    form = {"databaseName": "ledger", "size": "small", "version": "16"}
    hidden = member_client.post("/create/add-postgres-database/validate/?field=createTable", form).content.decode()
    assert 'id="field-tablename" hidden hx-swap-oob="true"' in hidden
    shown = member_client.post(
        "/create/add-postgres-database/validate/?field=createTable", {**form, "createTable": "true"}
    ).content.decode()
    assert 'id="field-tablename" hx-swap-oob="true"' in shown


def test_form_pages_are_steps(member_client, team, shipped_actions):
    first = member_client.get("/create/python-service/").content.decode()
    assert '<fieldset id="step-1">' in first
    assert '<fieldset id="step-2" hidden>' in first
    assert 'name="next"' in first
    assert 'name="run"' not in first
    page_one = {key: SERVICE_INPUTS[key] for key in ("name", "description", "owner")}
    stuck = member_client.post("/create/python-service/", {**page_one, "name": "Bad Name", "page": "1", "next": "1"})
    assert '<fieldset id="step-1">' in stuck.content.decode()
    assert "field--error" in stuck.content.decode()
    moved = member_client.post("/create/python-service/", {**page_one, "page": "1", "next": "1"}).content.decode()
    assert '<fieldset id="step-1" hidden>' in moved
    assert '<fieldset id="step-2">' in moved
    assert 'name="run"' in moved
    assert "field--error" not in moved
    assert 'value="payments-api"' in moved, "values of the other pages stay in the form"
    back = member_client.post("/create/python-service/", {**page_one, "page": "2", "back": "1"}).content.decode()
    assert '<fieldset id="step-1">' in back
