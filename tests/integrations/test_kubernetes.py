"""The Kubernetes client (official client v37 underneath) against the Kubernetes API stand-in."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime

import kubernetes.client
import pytest
import yaml

from integrations.http import RetryPolicy
from integrations.kubernetes import KubernetesClient, KubernetesError, kubernetes_clusters_from_env
from tests.integrations.conftest import FAST_RETRY
from tests.standins._server import self_signed_certificate
from tests.standins.kubernetes import KubernetesStandin

DEPLOYMENTS = "/apis/apps/v1/deployments"


def make_client(cluster, token=None, **kwargs) -> KubernetesClient:
    options = {"timeout": 2.0, "retry": FAST_RETRY}
    options.update(kwargs)
    return KubernetesClient.from_host(cluster.url, token or cluster.issue_token(), **options)


def write_kubeconfig(path, clusters: dict) -> str:
    """A kubeconfig with one context per stand-in: {context name: (standin, token)}."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": standin.url}} for name, (standin, _) in clusters.items()],
        "users": [{"name": f"{name}-user", "user": {"token": token}} for name, (_, token) in clusters.items()],
        "contexts": [
            {"name": name, "context": {"cluster": name, "user": f"{name}-user", "namespace": "default"}}
            for name in clusters
        ],
        "current-context": next(iter(clusters)),
    }
    path.write_text(yaml.safe_dump(config))
    return str(path)


# Deployments


def test_list_deployments_in_all_namespaces_returns_typed_deployments(cluster):
    cluster.add_deployment("shop", "web", replicas=3, labels={"team": "storefront"}, images=["ghcr.io/acme/web:2.1"])
    cluster.add_deployment("pay", "api", replicas=2, ready=0, updated=1, available=0)

    deployments = make_client(cluster).list_deployments()

    assert [(d.namespace, d.name) for d in deployments] == [("pay", "api"), ("shop", "web")]
    assert cluster.count("GET", DEPLOYMENTS) == 1
    api, web = deployments
    assert (api.replicas, api.ready, api.updated, api.available) == (2, 0, 1, 0)  # readyReplicas was left out
    assert not api.rolled_out
    assert {c.type: c.status for c in api.conditions} == {"Available": "False", "Progressing": "True"}
    assert (web.replicas, web.ready, web.updated, web.available) == (3, 3, 3, 3)
    assert web.rolled_out
    assert web.labels == {"app.kubernetes.io/name": "web", "team": "storefront"}
    assert web.images == ("ghcr.io/acme/web:2.1",)
    assert isinstance(web.created_at, datetime)
    assert web.conditions[0].reason == "MinimumReplicasAvailable"


def test_list_deployments_in_one_namespace(cluster):
    cluster.add_deployment("shop", "web")
    cluster.add_deployment("pay", "api")

    deployments = make_client(cluster).list_deployments(namespace="shop")

    assert [d.name for d in deployments] == ["web"]
    assert cluster.requests[-1].path == "/apis/apps/v1/namespaces/shop/deployments"


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("team=payments", ["api", "worker"]),
        ("team==payments,tier=backend", ["api"]),
        ("team in (payments, storefront)", ["api", "web", "worker"]),
        ("team notin (payments)", ["legacy", "web"]),
        ("team!=payments", ["legacy", "web"]),
        ("tier", ["api"]),
        ("!team", ["legacy"]),
    ],
)
def test_list_deployments_filters_by_label_selector(cluster, selector, expected):
    cluster.add_deployment("pay", "api", labels={"team": "payments", "tier": "backend"})
    cluster.add_deployment("pay", "worker", labels={"team": "payments"})
    cluster.add_deployment("shop", "web", labels={"team": "storefront"})
    cluster.add_deployment("old", "legacy")

    deployments = make_client(cluster).list_deployments(label_selector=selector)

    assert sorted(d.name for d in deployments) == sorted(expected)


def test_an_invalid_label_selector_is_reported_as_the_api_servers_400(cluster):
    with pytest.raises(KubernetesError, match="check the label or field selector") as caught:
        make_client(cluster).list_deployments(label_selector="team in payments")
    assert caught.value.status == 400
    assert caught.value.reason == "BadRequest"


def test_lists_follow_continue_pages_to_the_end(cluster):
    for index in range(5):
        cluster.add_deployment(f"ns-{index % 2}", f"app-{index}")

    deployments = make_client(cluster, page_size=2).list_deployments()

    assert len(deployments) == 5
    assert len({(d.namespace, d.name) for d in deployments}) == 5
    requests = cluster.requests
    assert [r.param("limit") for r in requests] == ["2", "2", "2"]
    assert requests[0].param("continue") is None
    assert requests[1].param("continue")
    assert requests[2].param("continue")


def test_a_filtered_list_can_end_with_an_empty_page(cluster):
    for name in ["a", "b", "c", "d"]:
        cluster.add_deployment("shop", name, labels={"keep": "yes"} if name in ("a", "b") else {})

    deployments = make_client(cluster, page_size=2).list_deployments(label_selector="keep=yes")

    assert [d.name for d in deployments] == ["a", "b"]
    assert cluster.count() == 2  # the second page is empty, and has no continue token


def test_an_expired_continue_token_restarts_the_list_once(cluster):
    for index in range(3):
        cluster.add_deployment("shop", f"app-{index}")
    cluster.expire_next_continue()

    deployments = make_client(cluster, page_size=2).list_deployments()

    assert [d.name for d in deployments] == ["app-0", "app-1", "app-2"]
    assert [bool(r.param("continue")) for r in cluster.requests] == [False, True, False, True]


# Pods and events


def test_list_pods_reports_readiness_restarts_and_what_is_wrong(cluster):
    cluster.add_pod("shop", "web-1", labels={"app": "web"}, images=["ghcr.io/acme/web:2.1", "envoy:1.30"])
    cluster.add_pod("shop", "web-2", labels={"app": "web"}, ready=False, restarts=7, waiting_reason="CrashLoopBackOff")
    cluster.add_pod("shop", "web-3", labels={"app": "web"}, phase="Pending", node=None)
    cluster.add_pod("shop", "web-4", labels={"app": "web"}, phase="Failed", ready=False, status_reason="Evicted")
    cluster.add_pod("shop", "web-5", labels={"app": "web"}, terminating=True)
    cluster.add_pod("shop", "other", labels={"app": "other"})

    pods = {pod.name: pod for pod in make_client(cluster).list_pods(label_selector="app=web", namespace="shop")}

    assert sorted(pods) == ["web-1", "web-2", "web-3", "web-4", "web-5"]
    healthy = pods["web-1"]
    assert (healthy.phase, healthy.ready, healthy.restarts, healthy.reason) == ("Running", True, 0, None)
    assert healthy.images == ("ghcr.io/acme/web:2.1", "envoy:1.30")
    assert healthy.node == "node-1"
    assert isinstance(healthy.started_at, datetime)
    assert isinstance(healthy.created_at, datetime)
    crashing = pods["web-2"]
    assert (crashing.ready, crashing.restarts, crashing.reason) == (False, 7, "CrashLoopBackOff")
    pending = pods["web-3"]
    assert (pending.phase, pending.node, pending.started_at, pending.reason) == ("Pending", None, None, "Unschedulable")
    assert pods["web-4"].reason == "Evicted"
    assert pods["web-5"].reason == "Terminating"


def test_list_pods_with_a_field_selector(cluster):
    cluster.add_pod("shop", "web-1")
    cluster.add_pod("shop", "web-2", phase="Pending", node=None)

    pods = make_client(cluster).list_pods(field_selector="status.phase=Running")

    assert [pod.name for pod in pods] == ["web-1"]


def test_list_events_returns_warnings_newest_first(cluster):
    cluster.add_event("shop", name="web-1", reason="BackOff", count=5, minutes_ago=10)
    cluster.add_event(
        "shop", name="web-2", reason="Failed", message="ErrImagePull", minutes_ago=1, series=True, count=3
    )
    cluster.add_event("shop", name="web-1", type="Normal", reason="Pulled", minutes_ago=0)
    cluster.add_event("pay", name="api-1", kind="Pod", reason="Unhealthy", minutes_ago=5)

    events = make_client(cluster).list_events()

    assert [(e.namespace, e.involved_name, e.reason) for e in events] == [
        ("shop", "web-2", "Failed"),
        ("pay", "api-1", "Unhealthy"),
        ("shop", "web-1", "BackOff"),
    ]
    assert events[0].count == 3  # from the events.k8s.io series
    assert events[2].count == 5
    assert events[0].type == "Warning"
    assert events[0].involved_kind == "Pod"
    assert events[0].message == "ErrImagePull"
    assert all(isinstance(e.last_seen, datetime) for e in events)
    assert cluster.requests[-1].param("fieldSelector") == "type=Warning"


def test_list_events_in_a_namespace_for_one_object_including_normal_ones(cluster):
    cluster.add_event("shop", name="web-1", reason="BackOff")
    cluster.add_event("shop", name="web-1", type="Normal", reason="Pulled")
    cluster.add_event("shop", name="web-2", reason="BackOff")

    events = make_client(cluster).list_events(
        namespace="shop", field_selector="involvedObject.name=web-1", warnings_only=False
    )

    assert sorted(e.reason for e in events) == ["BackOff", "Pulled"]


def test_an_unsupported_field_selector_is_refused_by_the_server(cluster):
    with pytest.raises(KubernetesError, match="field label not supported: spec.replicas") as caught:
        make_client(cluster).list_events(field_selector="spec.replicas=3")
    assert caught.value.status == 400


def test_namespaces_that_are_not_dns_labels_are_refused_before_any_request(cluster):
    client = make_client(cluster)

    for namespace in ["../kube-system", "Shop", "a/b", "", "x" * 64]:
        with pytest.raises(KubernetesError, match="not a valid namespace name"):
            client.list_pods(namespace=namespace)
    assert cluster.count() == 0


# Credentials and permissions


def test_a_rejected_token_names_the_setting_to_fix(cluster):
    with pytest.raises(KubernetesError) as caught:
        KubernetesClient.from_host(cluster.url, "expired-token", name="prod", retry=FAST_RETRY).list_pods()

    assert (caught.value.status, caught.value.reason) == (401, "Unauthorized")
    assert f"Kubernetes cluster 'prod' at {cluster.url} rejected the credentials" in str(caught.value)
    assert "check KUBERNETES_PROD_TOKEN" in str(caught.value)


def test_a_namespace_limited_account_may_list_its_namespaces_but_not_the_whole_cluster(cluster):
    cluster.add_deployment("shop", "web")
    client = make_client(cluster, token=cluster.issue_token(namespaces=["shop"]))

    assert [d.name for d in client.list_deployments(namespace="shop")] == ["web"]
    with pytest.raises(KubernetesError) as caught:
        client.list_deployments()

    assert (caught.value.status, caught.value.reason) == (403, "Forbidden")
    message = str(caught.value)
    assert 'cannot list resource "deployments" in API group "apps" at the cluster scope' in message
    assert "grant the account 'list' on deployments.apps" in message


def test_check_connection_reports_the_version_or_the_reason_it_failed(cluster):
    assert make_client(cluster).check_connection().version == "v1.33.1"

    limited = make_client(cluster, token=cluster.issue_token(namespaces=["shop"]))
    assert limited.check_connection(namespace="shop").version == "v1.33.1"
    with pytest.raises(KubernetesError, match="403"):
        limited.check_connection()


def test_from_kubeconfig_talks_to_several_clusters_at_once_without_touching_the_global_configuration(cluster, tmp_path):
    default_before = kubernetes.client.Configuration._default
    with KubernetesStandin() as other:
        cluster.add_deployment("shop", "web")
        other.add_deployment("eu", "api")
        path = write_kubeconfig(
            tmp_path / "kubeconfig",
            {"us": (cluster, cluster.issue_token()), "eu": (other, other.issue_token())},
        )
        clients = {
            "us": KubernetesClient.from_kubeconfig(path, "us", name="us"),
            "eu": KubernetesClient.from_kubeconfig(path, "eu", name="eu"),
        }
        results = {}

        def poll(name):
            results[name] = [d.name for d in clients[name].list_deployments()]

        threads = [threading.Thread(target=poll, args=(name,)) for name in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert results == {"us": ["web"], "eu": ["api"]}
    assert kubernetes.client.Configuration._default is default_before


def test_from_kubeconfig_with_an_unknown_context_says_what_to_fix(cluster, tmp_path):
    path = write_kubeconfig(tmp_path / "kubeconfig", {"us": (cluster, "t")})

    with pytest.raises(KubernetesError, match="could not load context 'mars'.*KUBERNETES_PROD_CONTEXT"):
        KubernetesClient.from_kubeconfig(path, "mars", name="prod")


def test_in_cluster_outside_a_pod_says_to_unset_the_setting(monkeypatch):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_PORT", raising=False)

    with pytest.raises(KubernetesError, match="unset KUBERNETES_IN_CLUSTER"):
        KubernetesClient.in_cluster()


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_tls_is_verified_against_the_configured_ca(tmp_path):
    cert, key = self_signed_certificate(tmp_path)
    with KubernetesStandin().use_tls(cert, key) as cluster:
        cluster.add_deployment("shop", "web")
        token = cluster.issue_token()

        with pytest.raises(KubernetesError, match="TLS certificate Portico could not verify.*KUBERNETES_CA_FILE"):
            KubernetesClient.from_host(cluster.url, token, retry=FAST_RETRY).list_deployments()
        assert cluster.count() == 0

        with_ca = KubernetesClient.from_host(cluster.url, token, ca_file=cert)
        assert [d.name for d in with_ca.list_deployments()] == ["web"]
        unverified = KubernetesClient.from_host(cluster.url, token, verify_ssl=False)
        assert [d.name for d in unverified.list_deployments()] == ["web"]


# Failure modes


def test_a_server_that_is_down_gives_a_connect_error(cluster):
    client = make_client(cluster)
    cluster.set_failure("down")

    with pytest.raises(KubernetesError, match="Could not connect to Kubernetes cluster 'default'") as caught:
        client.list_deployments()

    assert caught.value.status is None
    assert "3 attempts" in str(caught.value)


def test_a_slow_server_times_out_within_the_client_timeout(cluster):
    client = make_client(cluster, timeout=0.2, retry=RetryPolicy(attempts=2, backoff=0.01, max_total_wait=1))
    cluster.set_failure("slow")

    started = time.monotonic()
    with pytest.raises(KubernetesError, match=r"did not answer within 0.2 s .*2 attempts"):
        client.list_pods()

    assert time.monotonic() - started < 2
    assert cluster.count() == 2


def test_rate_limiting_honours_retry_after(cluster):
    cluster.add_deployment("shop", "web")
    client = make_client(cluster)
    cluster.set_failure("429", times=1, retry_after="1")

    started = time.monotonic()
    deployments = client.list_deployments()

    assert [d.name for d in deployments] == ["web"]
    assert time.monotonic() - started >= 1.0
    assert cluster.count() == 2


def test_a_retry_after_longer_than_the_wait_budget_is_reported_at_once(cluster):
    client = make_client(cluster)
    cluster.set_failure("429", retry_after="300")

    started = time.monotonic()
    with pytest.raises(KubernetesError, match="rate limiting") as caught:
        client.list_deployments()

    assert time.monotonic() - started < 1
    assert (caught.value.status, caught.value.reason) == (429, "TooManyRequests")
    assert caught.value.retry_after == 300
    assert cluster.count() == 1


def test_server_errors_are_retried_then_reported(cluster):
    cluster.add_deployment("shop", "web")
    client = make_client(cluster)

    cluster.set_failure("500", times=2)
    assert [d.name for d in client.list_deployments()] == ["web"]
    assert cluster.count() == 3

    cluster.reset_requests()
    cluster.set_failure("503", retry_after="0")
    with pytest.raises(KubernetesError, match="failed to list deployments in all namespaces") as caught:
        client.list_deployments()
    assert (caught.value.status, caught.value.reason) == (503, "ServiceUnavailable")
    assert cluster.count() == 3


def test_malformed_json_gives_a_clear_error(cluster):
    client = make_client(cluster)
    cluster.set_failure("malformed")

    with pytest.raises(KubernetesError, match="not a valid Kubernetes object"):
        client.list_deployments()


def test_an_object_the_client_models_reject_gives_a_clear_error(cluster):
    cluster.put_object("deployments", {"metadata": {"name": "broken", "namespace": "shop"}, "spec": {}})

    with pytest.raises(KubernetesError, match="not a valid Kubernetes object") as caught:
        make_client(cluster).list_deployments()

    assert "selector" in str(caught.value)


def test_tokens_never_reach_logs_or_error_messages(cluster, caplog):
    caplog.set_level(logging.DEBUG)
    token = cluster.issue_token()
    bad_token = "sa-revoked-" + "x" * 20
    messages = []
    quick = RetryPolicy(attempts=2, backoff=0.01, max_backoff=0.01, max_total_wait=1)
    for mode in ["401", "403", "500", "429", "malformed", "slow", "down", None]:
        cluster.set_failure(mode, retry_after="0")
        for client in [
            make_client(cluster, token, timeout=0.1, retry=quick),
            make_client(cluster, bad_token, timeout=0.1, retry=quick),
        ]:
            try:
                client.list_pods()
                client.check_connection()
            except KubernetesError as exc:
                messages.append(str(exc))
            messages.append(repr(client))

    assert len(messages) > 10
    for text in [caplog.text, *messages]:
        assert token not in text
        assert bad_token not in text


# Configuration


def test_config_reads_a_host_and_token_cluster(cluster):
    cluster.add_deployment("shop", "web")
    token = cluster.issue_token()

    [config] = kubernetes_clusters_from_env(
        {"KUBERNETES_HOST": cluster.url, "KUBERNETES_TOKEN": token, "KUBERNETES_TIMEOUT": "4"}
    )

    assert (config.name, config.mode, config.host, config.timeout) == ("default", "host", cluster.url, 4.0)
    assert token not in config.describe()
    assert token not in repr(config)
    assert [d.name for d in config.client().list_deployments()] == ["web"]


def test_config_reads_several_clusters(cluster, tmp_path):
    path = write_kubeconfig(tmp_path / "kubeconfig", {"us": (cluster, cluster.issue_token())})
    cluster.add_deployment("shop", "web")
    env = {
        "KUBERNETES_CLUSTERS": "prod-us,staging,local",
        "KUBERNETES_PROD_US_CONTEXT": "us",
        "KUBECONFIG": path,
        "KUBERNETES_STAGING_HOST": "https://10.0.0.1:6443",
        "KUBERNETES_STAGING_TOKEN": "sa-token",
        "KUBERNETES_STAGING_VERIFY_TLS": "no",
        "KUBERNETES_STAGING_CA_FILE": "/etc/ssl/staging-ca.pem",
        "KUBERNETES_LOCAL_IN_CLUSTER": "1",
    }

    prod, staging, local = kubernetes_clusters_from_env(env)

    assert (prod.name, prod.mode, prod.context, prod.kubeconfig) == ("prod-us", "kubeconfig", "us", path)
    assert [d.name for d in prod.client().list_deployments()] == ["web"]
    assert (staging.mode, staging.host, staging.verify_tls, staging.ca_file) == (
        "host",
        "https://10.0.0.1:6443",
        False,
        "/etc/ssl/staging-ca.pem",
    )
    assert "NOT verified" in staging.describe()
    assert (local.mode, local.describe()) == (
        "in-cluster",
        "Kubernetes cluster 'local' through the pod's service account (timeout 10 s)",
    )


def test_kubeconfig_alone_configures_nothing():
    assert kubernetes_clusters_from_env({"KUBECONFIG": "/home/me/.kube/config"}) == []
    [config] = kubernetes_clusters_from_env({"KUBERNETES_IN_CLUSTER": "true"})
    assert (config.name, config.mode) == ("default", "in-cluster")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KUBERNETES_CLUSTERS": "prod"}, "lists 'prod' but it has no connection settings"),
        ({"KUBERNETES_HOST": "https://k8s"}, "needs KUBERNETES_TOKEN as well"),
        ({"KUBERNETES_TOKEN": "t"}, "needs KUBERNETES_HOST as well"),
        ({"KUBERNETES_HOST": "k8s:6443", "KUBERNETES_TOKEN": "t"}, "KUBERNETES_HOST must be an http"),
        ({"KUBERNETES_CONTEXT": "a", "KUBERNETES_IN_CLUSTER": "1"}, "more than one connection setting"),
        ({"KUBERNETES_CLUSTERS": "service"}, "choose another name"),
        ({"KUBERNETES_IN_CLUSTER": "sometimes"}, "KUBERNETES_IN_CLUSTER must be true or false"),
        ({"KUBERNETES_CONTEXT": "a", "KUBERNETES_TIMEOUT": "soon"}, "KUBERNETES_TIMEOUT must be a number"),
    ],
)
def test_config_errors_name_the_variable_to_fix(env, message):
    with pytest.raises(KubernetesError, match=message):
        kubernetes_clusters_from_env(env)
