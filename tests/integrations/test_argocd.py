"""The Argo CD client against the Argo CD stand-in."""

from __future__ import annotations

import logging
import time
from datetime import datetime

import pytest

from integrations.argocd import ArgoCDClient, ArgoCDError, argocd_instances_from_env
from integrations.http import RetryPolicy
from tests.integrations.conftest import FAST_RETRY
from tests.standins._server import self_signed_certificate
from tests.standins.argocd import ArgoCDStandin, fake_sha

LIST = "/api/v1/applications"
TWO_TRIES = RetryPolicy(attempts=2, backoff=0.01, max_backoff=0.01, max_total_wait=1)


def make_client(argocd: ArgoCDStandin, **kwargs) -> ArgoCDClient:
    options = {"token": argocd.issue_token(), "timeout": 2.0, "retry": FAST_RETRY}
    options.update(kwargs)
    return ArgoCDClient(argocd.url, **options)


def manifest(name: str, *, path: str = "apps/new", project: str = "default") -> dict:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd", "labels": {"team": "payments"}},
        "spec": {
            "project": project,
            "source": {"repoURL": "https://github.com/acme/gitops.git", "path": path, "targetRevision": "main"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": name},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
        },
    }


# Reading applications


def test_list_applications_returns_typed_applications_sorted_by_name_in_one_call(argocd):
    argocd.add_application("web", labels={"team": "frontend"}, images=["ghcr.io/acme/web:1.2.0"], history=["a" * 40])
    argocd.add_application(
        "payments-api",
        project="payments",
        namespace="payments",
        labels={"team": "payments", "tier": "backend"},
        path="apps/payments-api",
        target_revision="main",
        sync_status="OutOfSync",
        health_status="Degraded",
        history=["1" * 40, "2" * 40],
    )
    client = make_client(argocd)

    apps = client.list_applications()

    assert [app.name for app in apps] == ["payments-api", "web"]
    assert argocd.count("GET", LIST) == 1
    payments = apps[0]
    assert payments.project == "payments"
    assert payments.namespace == "payments"
    assert payments.app_namespace == "argocd"
    assert payments.labels == {"team": "payments", "tier": "backend"}
    assert payments.repo_url == "https://github.com/acme/gitops.git"
    assert (payments.path, payments.target_revision) == ("apps/payments-api", "main")
    assert (payments.sync_status, payments.health_status) == ("OutOfSync", "Degraded")
    assert payments.sync_revision == "2" * 40
    assert [entry.revision for entry in payments.history] == ["1" * 40, "2" * 40]
    assert payments.last_deployment.revision == "2" * 40
    assert isinstance(payments.history[0].deployed_at, datetime)
    assert payments.history[0].initiated_by == "admin"
    assert isinstance(payments.reconciled_at, datetime)
    out_of_sync = payments.out_of_sync_resources
    assert [(r.group, r.kind, r.namespace, r.name, r.status) for r in out_of_sync] == [
        ("apps", "Deployment", "payments", "payments-api", "OutOfSync")
    ]
    assert out_of_sync[0].health is None  # Argo CD 3.x leaves per-resource health out of the list
    assert apps[1].images == ("ghcr.io/acme/web:1.2.0",)
    assert apps[1].out_of_sync_resources == ()


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("team=payments", ["payments-api", "payments-worker"]),
        ("team in (payments,frontend)", ["payments-api", "payments-worker", "web"]),
        ("team!=payments", ["legacy", "web"]),
        ("tier", ["payments-api"]),
        ("!tier,team=payments", ["payments-worker"]),
    ],
)
def test_list_applications_filters_by_label_selector(argocd, selector, expected):
    argocd.add_application("payments-api", labels={"team": "payments", "tier": "backend"})
    argocd.add_application("payments-worker", labels={"team": "payments"})
    argocd.add_application("web", labels={"team": "frontend"})
    argocd.add_application("legacy")

    apps = make_client(argocd).list_applications(selector=selector)

    assert [app.name for app in apps] == expected


def test_list_applications_filters_by_projects_and_silently_leaves_out_unreadable_ones(argocd):
    argocd.add_application("a", project="payments")
    argocd.add_application("b", project="search")
    argocd.add_application("c", project="secret")
    client = make_client(argocd)

    assert [app.name for app in client.list_applications(projects=["payments", "search"])] == ["a", "b"]
    argocd.readable_projects = {"payments", "search"}
    assert [app.name for app in client.list_applications()] == ["a", "b"]
    assert argocd.requests[0].params("projects") == ["payments", "search"]


def test_missing_fields_that_go_leaves_out_read_as_empty(argocd):
    argocd.put_application(
        {
            "metadata": {"name": "bare", "namespace": "argocd"},
            "spec": {"destination": {"server": "https://kubernetes.default.svc"}, "sources": [{"repoURL": "r"}]},
            "status": {"sync": {"comparedTo": {"source": {"repoURL": ""}, "destination": {}}}, "health": {}},
        }
    )
    client = make_client(argocd)

    app = client.get_application("bare", project="default")

    assert app.project == "default"
    assert (app.sync_status, app.health_status) == ("Unknown", "Unknown")
    assert app.history == ()
    assert app.last_deployment is None
    assert app.operation_phase is None
    assert not app.operation_in_progress
    assert app.reconciled_at is None
    assert app.images == ()
    assert app.labels == {}
    assert app.conditions == ()
    assert app.repo_url == "r"
    assert app.target_revision == "HEAD"


def test_get_application_needs_the_project_and_answers_404_for_a_missing_or_misplaced_app(argocd):
    argocd.add_application("payments-api", project="payments", health_status="Progressing")
    client = make_client(argocd)

    assert client.get_application("payments-api", project="payments").health_status == "Progressing"
    assert argocd.requests[-1].params("project") == ["payments"]
    for name, project in [("nope", "payments"), ("payments-api", "default")]:
        with pytest.raises(ArgoCDError) as caught:
            client.get_application(name, project=project)
        assert caught.value.status == 404
        assert f"no application '{name}' in project '{project}'" in str(caught.value)


def test_get_application_in_a_forbidden_project_explains_the_permission(argocd):
    argocd.add_application("payments-api", project="payments")
    argocd.readable_projects = {"default"}

    with pytest.raises(ArgoCDError) as caught:
        make_client(argocd).get_application("payments-api", project="payments")

    assert caught.value.status == 403
    assert caught.value.code == 7
    assert "RBAC" in str(caught.value)
    assert "project 'payments'" in str(caught.value)


def test_names_that_are_not_kubernetes_names_are_refused_before_any_request(argocd):
    client = make_client(argocd)

    for name in ["../session", "a/b", "Payments", "x?y=1", ""]:
        with pytest.raises(ArgoCDError, match="not a valid application name"):
            client.get_application(name, project="default")
    with pytest.raises(ArgoCDError, match="not a valid project name"):
        client.list_applications(projects=["a&projects=b"])
    assert argocd.count() == 0


def test_resource_tree_lists_live_resources_with_parents_and_images(argocd):
    argocd.add_application("web", images=["ghcr.io/acme/web:1.2.0"], health_status="Degraded")

    tree = make_client(argocd).resource_tree("web", project="default")

    kinds = {node.kind: node for node in tree.nodes}
    assert set(kinds) == {"Service", "Deployment", "ReplicaSet", "Pod"}
    assert kinds["Deployment"].health_status == "Degraded"
    assert kinds["Pod"].images == ("ghcr.io/acme/web:1.2.0",)
    assert kinds["Pod"].parents == (f"ReplicaSet/{kinds['ReplicaSet'].name}",)
    assert kinds["Pod"].info["Status Reason"] == "Running"
    assert tree.orphaned_nodes == ()
    assert tree.hosts == ()


# Writing


def test_sync_starts_an_operation_and_a_second_sync_is_refused_while_it_runs(argocd):
    argocd.add_application("web", project="frontend", sync_status="OutOfSync", history=["1" * 40])
    client = make_client(argocd)

    app = client.sync("web", project="frontend", revision="v1.3.0", prune=True)

    assert app.operation_requested
    assert app.operation_in_progress
    assert app.operation_phase is None  # the sync answer clears status.operationState
    request = argocd.requests[-1]
    assert request.json() == {"name": "web", "project": "frontend", "prune": True, "revision": "v1.3.0"}
    with pytest.raises(ArgoCDError) as caught:
        client.sync("web", project="frontend")
    assert (caught.value.status, caught.value.code) == (400, 9)
    assert "another operation is already in progress" in str(caught.value)

    argocd.run_operation("web")
    assert client.get_application("web", project="frontend").operation_phase == "Running"
    argocd.finish_operation("web")
    done = client.get_application("web", project="frontend")
    assert (done.operation_phase, done.operation_in_progress) == ("Succeeded", False)
    assert done.sync_status == "Synced"
    assert done.sync_revision == fake_sha("web", "v1.3.0")
    assert [entry.id for entry in done.history] == [0, 1]
    assert done.last_deployment.revision == fake_sha("web", "v1.3.0")


def test_sync_is_not_repeated_after_a_server_error(argocd):
    argocd.add_application("web")
    argocd.set_failure("500")

    with pytest.raises(ArgoCDError) as caught:
        make_client(argocd).sync("web", project="default")

    assert caught.value.status == 500
    assert argocd.count("POST", "/api/v1/applications/web/sync") == 1


def test_dry_run_sync_is_sent_as_dry_run(argocd):
    argocd.add_application("web")

    make_client(argocd).sync("web", project="default", dry_run=True)

    assert argocd.application("web")["operation"]["sync"]["dryRun"] is True


def test_create_application_creates_is_idempotent_and_upserts_changes(argocd):
    client = make_client(argocd)

    created = client.create_application(manifest("billing"))
    again = client.create_application(manifest("billing"), upsert=False)

    assert created.name == again.name == "billing"
    assert created.labels == {"team": "payments"}
    assert created.auto_sync is True
    assert created.sync_status == "Unknown"  # not reconciled yet
    with pytest.raises(ArgoCDError) as caught:
        client.create_application(manifest("billing", path="apps/other"), upsert=False)
    assert caught.value.status == 400
    assert "use upsert flag" in str(caught.value)
    updated = client.create_application(manifest("billing", path="apps/other"))
    assert updated.path == "apps/other"
    assert argocd.requests[-1].param("upsert") == "true"


def test_create_application_checks_the_manifest_before_sending(argocd):
    client = make_client(argocd)
    broken = manifest("billing")
    del broken["spec"]["project"]

    with pytest.raises(ArgoCDError, match="no spec.project"):
        client.create_application(broken)
    with pytest.raises(ArgoCDError, match="not a valid application name"):
        client.create_application(manifest("../../etc"))
    assert argocd.count() == 0


def test_create_application_in_an_unknown_project_reports_argo_cds_reason(argocd):
    with pytest.raises(ArgoCDError, match="references project nowhere which does not exist"):
        make_client(argocd).create_application(manifest("billing", project="nowhere"))


# Authentication


def test_a_rejected_token_names_the_setting_to_fix(argocd):
    argocd.add_application("web")
    revoked = argocd.issue_token()
    argocd.revoke_tokens()

    with pytest.raises(ArgoCDError) as caught:
        ArgoCDClient(argocd.url, token=revoked, name="prod", retry=FAST_RETRY).list_applications()

    assert caught.value.status == 401
    assert caught.value.code == 16
    assert f"Argo CD 'prod' at {argocd.url} rejected the token" in str(caught.value)
    assert "check ARGOCD_PROD_TOKEN" in str(caught.value)


def test_only_a_three_segment_value_is_a_token(argocd):
    with pytest.raises(ArgoCDError, match="invalid number of segments") as caught:
        ArgoCDClient(argocd.url, token="not-a-jwt", retry=FAST_RETRY).list_applications()
    assert "check ARGOCD_TOKEN" in str(caught.value)


def test_without_credentials_argo_cd_says_there_is_no_session(argocd):
    with pytest.raises(ArgoCDError, match="no session information") as caught:
        ArgoCDClient(argocd.url, retry=FAST_RETRY).list_applications()
    assert "set ARGOCD_TOKEN" in str(caught.value)


def test_username_and_password_log_in_once_and_log_in_again_when_the_session_expires(argocd):
    argocd.add_application("web")
    client = ArgoCDClient(argocd.url, username="admin", password="password", retry=FAST_RETRY)

    client.list_applications()
    client.list_applications()
    assert argocd.count("POST", "/api/v1/session") == 1
    assert argocd.requests[0].json() == {"username": "admin", "password": "password"}

    argocd.revoke_tokens()
    assert [app.name for app in client.list_applications()] == ["web"]
    assert argocd.count("POST", "/api/v1/session") == 2


def test_a_wrong_password_names_the_settings_to_fix(argocd):
    client = ArgoCDClient(argocd.url, username="admin", password="wrong", name="staging", retry=FAST_RETRY)

    with pytest.raises(ArgoCDError) as caught:
        client.list_applications()

    assert caught.value.status == 401
    assert "rejected the username and password" in str(caught.value)
    assert "ARGOCD_STAGING_USERNAME and ARGOCD_STAGING_PASSWORD" in str(caught.value)
    assert argocd.count("GET", LIST) == 0


def test_check_connection_reports_version_and_user_or_the_reason_it_failed(argocd):
    info = make_client(argocd).check_connection()
    assert info.version == "v3.5.1+standin"
    assert info.username == "admin"

    argocd.revoke_tokens()
    with pytest.raises(ArgoCDError, match="does not accept our credentials") as caught:
        make_client(argocd, token="a.b.c").check_connection()
    assert caught.value.status == 401

    argocd.set_failure("down")
    with pytest.raises(ArgoCDError, match="Could not connect"):
        make_client(argocd, token="a.b.c").check_connection()


# Failure modes


def test_a_server_that_is_down_gives_a_connect_error_after_the_allowed_attempts(argocd):
    client = make_client(argocd)
    argocd.set_failure("down")

    with pytest.raises(ArgoCDError) as caught:
        client.list_applications()

    assert caught.value.status is None
    assert "Could not connect to Argo CD at" in str(caught.value)
    assert "3 attempts" in str(caught.value)
    assert "check ARGOCD_URL" in str(caught.value)


def test_a_slow_server_times_out_within_the_client_timeout(argocd):
    client = make_client(argocd, timeout=0.2, retry=RetryPolicy(attempts=2, backoff=0.01, max_total_wait=1))
    argocd.set_failure("slow")

    started = time.monotonic()
    with pytest.raises(ArgoCDError, match=r"did not answer within 0.2 s .*2 attempts"):
        client.list_applications()

    assert time.monotonic() - started < 2
    assert argocd.count("GET", LIST) == 2


def test_rate_limiting_honours_retry_after(argocd):
    argocd.add_application("web")
    client = make_client(argocd)
    argocd.set_failure("429", times=1, retry_after="1")

    started = time.monotonic()
    apps = client.list_applications()

    assert [app.name for app in apps] == ["web"]
    assert time.monotonic() - started >= 1.0
    assert argocd.count("GET", LIST) == 2


def test_a_retry_after_longer_than_the_wait_budget_is_reported_at_once(argocd):
    client = make_client(argocd)
    argocd.set_failure("429", retry_after="120")

    started = time.monotonic()
    with pytest.raises(ArgoCDError) as caught:
        client.list_applications()

    assert time.monotonic() - started < 1
    assert caught.value.status == 429
    assert caught.value.retry_after == 120
    assert "rate limiting" in str(caught.value)
    assert "wait 120 s" in str(caught.value)
    assert argocd.count("GET", LIST) == 1


def test_server_errors_are_retried_then_reported(argocd):
    argocd.add_application("web")
    client = make_client(argocd)

    argocd.set_failure("503", times=2, retry_after="0")
    assert [app.name for app in client.list_applications()] == ["web"]
    assert argocd.count("GET", LIST) == 3

    argocd.reset_requests()
    argocd.set_failure("500")
    with pytest.raises(ArgoCDError) as caught:
        client.list_applications()
    assert caught.value.status == 500
    assert "Internal Server Error" in str(caught.value)
    assert argocd.count("GET", LIST) == 3


def test_malformed_json_gives_a_clear_error(argocd):
    client = make_client(argocd)
    argocd.set_failure("malformed")

    with pytest.raises(ArgoCDError, match="not JSON") as caught:
        client.list_applications()

    assert "check that ARGOCD_URL points at the Argo CD API server" in str(caught.value)


def test_an_injected_403_is_explained(argocd):
    argocd.set_failure("403")

    with pytest.raises(ArgoCDError, match="denied permission to list applications") as caught:
        make_client(argocd).list_applications()

    assert caught.value.status == 403


def test_tls_certificates_are_verified_unless_told_otherwise(tmp_path):
    cert, key = self_signed_certificate(tmp_path)
    with ArgoCDStandin().use_tls(cert, key) as argocd:
        argocd.add_application("web")
        token = argocd.issue_token()

        with pytest.raises(ArgoCDError, match="TLS certificate Portico could not verify.*ARGOCD_VERIFY_TLS=false"):
            ArgoCDClient(argocd.url, token=token, retry=FAST_RETRY).list_applications()
        assert argocd.count() == 0  # the handshake failed, and was not tried again

        assert [app.name for app in ArgoCDClient(argocd.url, token=token, verify=cert).list_applications()] == ["web"]
        assert [app.name for app in ArgoCDClient(argocd.url, token=token, verify=False).list_applications()] == ["web"]
    with pytest.raises(ArgoCDError, match="cannot read the CA bundle"):
        ArgoCDClient(argocd.url, token=token, verify=str(tmp_path / "missing.pem"))


def test_tokens_and_passwords_never_reach_logs_or_error_messages(argocd, caplog):
    caplog.set_level(logging.DEBUG)
    argocd.users["portico"] = "Zq9-very-secret"
    token = argocd.issue_token()
    messages = []
    for mode in ["401", "403", "500", "503", "429", "malformed", "slow", "down", None]:
        argocd.set_failure(mode, retry_after="0")
        for client in [
            make_client(argocd, token=token, timeout=0.1, retry=TWO_TRIES),
            make_client(
                argocd, token=None, username="portico", password="Zq9-very-secret", timeout=0.1, retry=TWO_TRIES
            ),
        ]:
            try:
                client.list_applications()
                client.check_connection()
            except ArgoCDError as exc:
                messages.append(str(exc))
            messages.append(repr(client))

    assert len(messages) > 10
    for text in [caplog.text, *messages]:
        assert token not in text
        assert "Zq9-very-secret" not in text
    session_tokens = [request.headers.get("authorization", "")[7:] for request in argocd.requests]
    for session_token in filter(None, session_tokens):
        assert session_token not in caplog.text


# Configuration


def test_config_reads_one_default_instance(argocd):
    argocd.add_application("web")
    token = argocd.issue_token()
    env = {"ARGOCD_URL": argocd.url + "/", "ARGOCD_TOKEN": token, "ARGOCD_TIMEOUT": "3"}

    [instance] = argocd_instances_from_env(env)

    assert (instance.name, instance.url, instance.timeout, instance.verify_tls) == ("default", argocd.url, 3.0, True)
    assert token not in instance.describe()
    assert token not in repr(instance)
    assert "API token from ARGOCD_TOKEN" in instance.describe()
    assert [app.name for app in instance.client().list_applications()] == ["web"]


def test_config_reads_several_instances():
    env = {
        "ARGOCD_INSTANCES": "prod, staging-eu",
        "ARGOCD_PROD_URL": "https://argocd.prod.example.com",
        "ARGOCD_PROD_TOKEN": "a.b.c",
        "ARGOCD_STAGING_EU_URL": "https://argocd.staging.example.com",
        "ARGOCD_STAGING_EU_USERNAME": "portico",
        "ARGOCD_STAGING_EU_PASSWORD": "s3cret-pass",
        "ARGOCD_STAGING_EU_VERIFY_TLS": "false",
    }

    prod, staging = argocd_instances_from_env(env)

    assert (prod.name, prod.token, prod.verify_tls) == ("prod", "a.b.c", True)
    assert (staging.name, staging.username, staging.password, staging.verify_tls) == (
        "staging-eu",
        "portico",
        "s3cret-pass",
        False,
    )
    assert "s3cret-pass" not in staging.describe()
    assert "s3cret-pass" not in repr(staging)
    assert "NOT verified" in staging.describe()


def test_no_settings_means_no_instances():
    assert argocd_instances_from_env({}) == []


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ARGOCD_INSTANCES": "prod"}, "ARGOCD_PROD_URL is not set"),
        ({"ARGOCD_URL": "ftp://argocd"}, "must start with http"),
        ({"ARGOCD_URL": "https://user:pw@argocd"}, "must not contain credentials"),
        ({"ARGOCD_URL": "https://argocd", "ARGOCD_TOKEN": "t", "ARGOCD_USERNAME": "u"}, "not both"),
        ({"ARGOCD_URL": "https://argocd", "ARGOCD_USERNAME": "u"}, "must be set together"),
        ({"ARGOCD_URL": "https://argocd", "ARGOCD_VERIFY_TLS": "maybe"}, "ARGOCD_VERIFY_TLS must be true or false"),
        ({"ARGOCD_URL": "https://argocd", "ARGOCD_TIMEOUT": "-1"}, "ARGOCD_TIMEOUT must be more than 0"),
        ({"ARGOCD_INSTANCES": "prod,Prod"}, "lists 'prod' twice"),
        ({"ARGOCD_INSTANCES": "../x"}, "not a valid name"),
    ],
)
def test_config_errors_name_the_variable_to_fix(env, message):
    with pytest.raises(ArgoCDError, match=message):
        argocd_instances_from_env(env)
