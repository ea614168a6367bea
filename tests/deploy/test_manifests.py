"""The manifests that run Portico itself are plain Kubernetes YAML that the API server would accept."""

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.31"
MANIFESTS = sorted(path for path in DEPLOY.rglob("*.yaml") if path.name != "kustomization.yaml")


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda path: str(path.relative_to(DEPLOY)))
def test_every_manifest_validates_against_the_kubernetes_schemas(path):
    for document in yaml.safe_load_all(path.read_text()):
        if document["apiVersion"].startswith("external-secrets.io/"):
            assert document["spec"]["secretStoreRef"]["name"]
            assert document["spec"]["target"]["name"] == "portico"
            continue
        assert kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_kustomizations_list_files_that_exist():
    for kustomization in DEPLOY.rglob("kustomization.yaml"):
        for resource in yaml.safe_load(kustomization.read_text())["resources"]:
            assert (kustomization.parent / resource).exists(), f"{kustomization}: {resource}"


def test_no_secret_values_are_committed():
    for path in MANIFESTS:
        for document in yaml.safe_load_all(path.read_text()):
            assert document["kind"] != "Secret", f"{path} holds a Secret; reference it through an ExternalSecret"


def test_workloads_run_as_non_root_with_requests_and_limits():
    for path in MANIFESTS:
        for document in yaml.safe_load_all(path.read_text()):
            if document["kind"] not in ("Deployment", "Job"):
                continue
            pod = document["spec"]["template"]["spec"]
            assert pod["securityContext"]["runAsNonRoot"] is True
            for container in pod["containers"]:
                assert {"requests", "limits"} <= container["resources"].keys()
                assert container["securityContext"]["allowPrivilegeEscalation"] is False
                assert not container["image"].endswith(":latest")
