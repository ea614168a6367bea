"""The shipped golden paths, rendered end to end with sample inputs.

Steps that need no outside system (fetch:template) run for real. The steps other modules register
(publish:git, gitops:commit, catalog:register...) are not run here: their rendered inputs are checked instead, and
the outputs later steps read are the ones those steps promise (remoteUrl, repoContentsUrl, entityRef...).
"""

import copy
import functools
import re
import socket
import tomllib
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from jsonschema import Draft7Validator

from scaffolder.definitions import golden_paths
from scaffolder.expressions import evaluate_condition, expression_context, render_value
from scaffolder.form_fields import form_fields
from scaffolder.forms import clean_inputs, validate_inputs
from scaffolder.steps import StepContext, dry_run_check, run_step
from scaffolder.workspace import tree_snapshot

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
KUBERNETES_VERSION = "1.31"
LOCAL_STEPS = {"fetch:template", "fetch:plain", "debug:log"}  # the steps this part of Portico owns; they run here
REGISTERED_ELSEWHERE = {
    "publish:git",
    "publish:github",
    "gitops:commit",
    "argocd:application",
    "catalog:register",
    "catalog:update",
    "git:archive",
    "github:archive",
}
PROMISED_OUTPUTS = {
    "publish:git": {"remoteUrl": "file:///srv/portico/repos/payments-api.git", "repoContentsUrl": "file:///srv/r"},
    "publish:github": {
        "remoteUrl": "https://github.com/acme/payments-api",
        "repoContentsUrl": "https://github.com/acme/payments-api/blob/main",
    },
    "gitops:commit": {"commitHash": "0" * 40, "pullRequestUrl": "https://github.com/acme/gitops/pull/7"},
    "argocd:application": {"appName": "payments-api"},
    "catalog:register": {"entityRef": "component:default/payments-api"},
}
PLATFORM = {"gitopsRepoUrl": "https://github.com/acme/gitops.git", "imageRegistry": "ghcr.io/acme"}
USER = {"ref": "user:default/jane", "username": "jane", "email": "jane@example.test", "entity": "user:default/jane"}
SERVICE = {
    "apiVersion": "backstage.io/v1alpha1",
    "kind": "Component",
    "ref": "component:default/payments-api",
    "metadata": {
        "name": "payments-api",
        "namespace": "default",
        "annotations": {"backstage.io/kubernetes-namespace": "team-a", "github.com/project-slug": "acme/payments-api"},
    },
    "spec": {"type": "service", "owner": "group:default/team_a", "lifecycle": "production"},
}
TEAM = {
    "apiVersion": "backstage.io/v1alpha1",
    "kind": "Group",
    "ref": "group:default/Team_A",
    "metadata": {"name": "Team_A"},
}
SAMPLES = {
    "python-service": (
        {
            "name": "payments-api",
            "description": 'Takes payments: cards, "wallets" and more',
            "owner": "group:default/team_a",
            "system": "system:default/payments",
        },
        None,
    ),
    "add-postgres-database": ({"databaseName": "orders", "size": "medium", "tableName": "order_lines"}, SERVICE),
    "create-team-namespace": ({"size": "large", "reason": "payments"}, TEAM),
    "scale-service": ({"minReplicas": 3, "maxReplicas": 9, "reason": "Black Friday"}, SERVICE),
    "deprecate-service": ({"reason": "Replaced by payments-v2", "sunsetDate": "2026-03-31"}, SERVICE),
    "delete-service": ({"reason": "Retired", "confirm": True}, SERVICE),
}
CREDENTIAL_PATTERNS = [
    re.compile(r"(?i)\b(password|passwd|secret|token|api[_-]?key)\s*[:=]\s*[\"']?(?![\"']?\{\{)[^\s\"'{}]{8,}"),
    re.compile(r"://[^/\s:@{]+:[^@\s{]+@"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----|\bghp_[A-Za-z0-9]{20,}|\bAKIA[0-9A-Z]{16}\b|\bxox[bp]-"),
]


def golden_path(name):
    return {path.definition.identifier: path for path in golden_paths()}[name]


def simulate(name, workspace, *, data=None, platform=None):
    """Run a golden path as the engine would; returns (rendered inputs of steps that ran, output, files)."""
    path = golden_path(name)
    sample, entity = SAMPLES[name]
    cleaned = clean_inputs(path.definition.parameters, sample if data is None else data)
    assert cleaned.errors == {}
    outputs, ran = {}, {}
    for step in path.definition.steps:
        context = expression_context(
            parameters=cleaned.values,
            steps_outputs=outputs,
            user=USER,
            entity=entity,
            platform=PLATFORM | (platform or {}),
        )
        if not evaluate_condition(step.if_, context):
            continue
        ran[step.id] = (step.action, render_value(step.input, context))
        if step.action in LOCAL_STEPS:
            ctx = StepContext(
                workspace=workspace,
                parameters=cleaned.values,
                user=USER,
                steps_outputs=outputs,
                checkpoint={},
                dry_run=True,
                log=lambda level, message: None,
                action_dir=path.directory,
                step_id=step.id,
            )
            outputs[step.id] = run_step(step.action, ctx, ran[step.id][1])
        else:
            outputs[step.id] = PROMISED_OUTPUTS.get(step.action, {})
    final_context = expression_context(
        parameters=cleaned.values,
        steps_outputs=outputs,
        user=USER,
        entity=entity,
        platform=PLATFORM | (platform or {}),
    )
    final = render_value(path.definition.output, final_context)
    return ran, final, tree_snapshot(workspace)


def manifests(files):
    """(path, document) for every YAML document under gitops/."""
    found = []
    for path, data in files.items():
        if path.startswith("gitops/") and path.endswith((".yaml", ".yml")):
            found += [(path, document) for document in yaml.safe_load_all(data) if document]
    return found


@functools.cache
def argocd_schema():
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the CRD is 7,000 lines; libyaml reads it 10x faster
    crd = yaml.load((SHARED / "contracts" / "argocd-application-crd.yaml").read_text(), Loader=loader)
    (version,) = [version for version in crd["spec"]["versions"] if version["name"] == "v1alpha1"]
    schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])

    def strict(node):
        # Kubernetes prunes fields a structural schema does not know; flag them instead, as a typo would be.
        if isinstance(node, dict):
            if node.get("properties") and "additionalProperties" not in node:
                if not node.get("x-kubernetes-preserve-unknown-fields"):
                    node["additionalProperties"] = False
            for value in node.values():
                strict(value)
        elif isinstance(node, list):
            for value in node:
                strict(value)

    strict(schema)
    return schema


def check_crd(document):
    """The fields each CRD's documentation requires."""
    kind, spec = document["kind"], document.get("spec", {})
    assert document["metadata"]["name"]
    if kind == "Application":
        errors = [error.message for error in Draft7Validator(argocd_schema()).iter_errors(document)]
        assert errors == []
        assert all(spec["source"][key] for key in ("repoURL", "path", "targetRevision"))
        assert all(spec["destination"][key] for key in ("server", "namespace"))
        assert spec["syncPolicy"]["automated"]["selfHeal"] is True
    elif kind == "ServiceMonitor":
        assert document["apiVersion"] == "monitoring.coreos.com/v1"
        assert spec["selector"]["matchLabels"]
        assert all(endpoint["port"] and endpoint["path"] for endpoint in spec["endpoints"])
    elif kind == "PostgreSQLInstance":
        assert document["apiVersion"] == "database.example.org/v1alpha1"
        assert document["metadata"]["namespace"], "a Crossplane claim is namespaced"
        assert spec["compositionSelector"]["matchLabels"] or spec["compositionRef"]["name"]
        assert spec["writeConnectionSecretToRef"] == {"name": f"{document['metadata']['name']}-connection"}
        assert spec["parameters"]["storageGB"] > 0
    elif kind == "ExternalSecret":
        assert document["apiVersion"] == "external-secrets.io/v1beta1"
        assert spec["secretStoreRef"]["kind"] in ("SecretStore", "ClusterSecretStore")
        assert spec["secretStoreRef"]["name"]
        assert spec["target"]["name"]
        assert spec.get("data") or spec.get("dataFrom")
        assert all(value.startswith("{{") or "{{ ." in value for value in spec["target"]["template"]["data"].values())
    elif kind == "Database":
        assert document["apiVersion"] == "databases.schemahero.io/v1alpha4"
        assert set(spec["connection"]["postgres"]["uri"]["valueFrom"]["secretKeyRef"]) == {"name", "key"}
    elif kind == "Table":
        assert document["apiVersion"] == "schemas.schemahero.io/v1alpha4"
        assert spec["database"]
        assert spec["name"]
        columns = spec["schema"]["postgres"]["columns"]
        assert all(column["name"] and column["type"] for column in columns)
        assert set(spec["schema"]["postgres"]["primaryKey"]) <= {column["name"] for column in columns}
    else:
        pytest.fail(f"{kind} has no check")


CRD_KINDS = {"Application", "ServiceMonitor", "PostgreSQLInstance", "ExternalSecret", "Database", "Table"}


def test_kubernetes_schemas_are_checked_offline(monkeypatch):
    def no_network(*args, **kwargs):
        raise OSError("network access in a schema check")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"ports": [{"port": 80}]}}

    assert f"{KUBERNETES_VERSION}.0" in kubernetes_validate.utils.all_versions()
    assert kubernetes_validate.validate(service, KUBERNETES_VERSION, strict=True) == KUBERNETES_VERSION
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(service | {"spec": {"portz": []}}, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_golden_path_dry_run_checks_but_for_steps_other_modules_register(name):
    problems = dry_run_check(golden_path(name).definition)

    unknown = [re.search(r"uses '([^']+)', which Portico does not have", problem) for problem in problems]
    assert all(unknown), problems
    assert {match.group(1) for match in unknown} <= REGISTERED_ELSEWHERE


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_golden_path_renders_and_its_manifests_validate(name, tmp_path):
    ran, output, files = simulate(name, tmp_path)

    assert ran
    for path, document in manifests(files):
        if document["kind"] == "Kustomization":
            folder = path.rsplit("/", 1)[0]
            listed = {f"{folder}/{resource}" for resource in document["resources"]}
            yaml_files = {p for p in files if p.startswith(folder + "/") and p.count("/") == path.count("/")}
            assert listed == yaml_files - {path, f"{folder}/application.yaml"}
        elif document["kind"] in CRD_KINDS:
            check_crd(document)
        else:
            assert kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    assert not any(link.get("url") is None and link.get("entityRef") is None for link in output.get("links", []))


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_no_secret_objects_and_no_credential_values_are_rendered(name, tmp_path):
    ran, _output, files = simulate(name, tmp_path)

    assert not [path for path, document in manifests(files) if document.get("kind") == "Secret"]
    texts = {path: data.decode() for path, data in files.items()} | {f"input of {k}": str(v) for k, v in ran.items()}
    for where, text in texts.items():
        for pattern in CREDENTIAL_PATTERNS:
            assert not pattern.search(text), f"{where} looks like it holds a credential: {pattern.search(text)[0]}"


def by_kind(files):
    return {document["kind"]: document for _path, document in manifests(files)}


def test_python_service_creates_a_repository_and_gitops_folder_with_platform_defaults(tmp_path):
    ran, output, files = simulate("python-service", tmp_path)

    assert {path.split("/")[0] for path in files} == {"service", "gitops"}
    assert sorted(p for p in files if p.startswith("gitops/")) == [
        f"gitops/apps/payments-api/{name}.yaml"
        for name in (
            "application",
            "deployment",
            "hpa",
            "kustomization",
            "networkpolicy",
            "pdb",
            "service",
            "servicemonitor",
        )
    ]
    kinds = by_kind(files)
    deployment = kinds["Deployment"]
    assert deployment["metadata"]["namespace"] == "team-a"
    assert "replicas" not in deployment["spec"]
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    assert container["image"] == "ghcr.io/acme/payments-api:0.1.0"
    assert not container["image"].endswith(":latest")
    assert set(container["resources"]) == {"requests", "limits"}
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["securityContext"] == {
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert container["ports"][0]["containerPort"] == 8000
    assert kinds["HorizontalPodAutoscaler"]["apiVersion"] == "autoscaling/v2"
    assert (
        kinds["HorizontalPodAutoscaler"]["spec"]["minReplicas"],
        kinds["HorizontalPodAutoscaler"]["spec"]["maxReplicas"],
    ) == (2, 6)
    assert kinds["PodDisruptionBudget"]["apiVersion"] == "policy/v1"
    assert kinds["Deployment"]["metadata"]["labels"]["app.kubernetes.io/part-of"] == "payments"
    application = kinds["Application"]
    assert application["spec"]["syncPolicy"] == {
        "automated": {"prune": True, "selfHeal": True},
        "syncOptions": ["CreateNamespace=true"],
    }
    assert application["spec"]["source"] == {
        "repoURL": "https://github.com/acme/gitops.git",
        "targetRevision": "main",
        "path": "apps/payments-api",
    }
    assert ran["gitops"] == (
        "gitops:commit",
        {
            "sourcePath": "gitops/apps/payments-api",
            "targetPath": "apps/payments-api",
            "message": "Add payments-api (created by user:default/jane with Portico)",
            "pullRequest": False,
        },
    )
    assert ran["argocd"] == ("argocd:application", {"manifestPath": "gitops/apps/payments-api/application.yaml"})
    assert output["links"][0] == {"title": "Repository", "url": "file:///srv/portico/repos/payments-api.git"}
    assert output["links"][1]["entityRef"] == "component:default/payments-api"


def test_python_service_publishes_to_a_local_repository_unless_github_is_configured(tmp_path):
    local, _output, _files = simulate("python-service", tmp_path / "a")
    github, output, files = simulate("python-service", tmp_path / "b", platform={"github": True, "githubOrg": "acme"})

    assert "publish" in local
    assert "publish-github" not in local
    assert local["publish"][1] == {
        "repoName": "payments-api",
        "description": 'Takes payments: cards, "wallets" and more',
        "sourcePath": "service",
        "defaultBranch": "main",
    }
    assert local["register"][1]["repoContentsUrl"] == "file:///srv/r"
    assert "publish" not in github
    assert github["publish-github"][0] == "publish:github"
    assert github["publish-github"][1]["repoUrl"] == "github.com?owner=acme&repo=payments-api"
    assert github["publish-github"][1]["repoVisibility"] == "private"
    assert github["register"][1]["repoContentsUrl"] == "https://github.com/acme/payments-api/blob/main"
    assert output["links"][0]["url"] == "https://github.com/acme/payments-api"
    catalog = yaml.safe_load(files["service/catalog-info.yaml"])
    assert catalog["metadata"]["annotations"]["github.com/project-slug"] == "acme/payments-api"


def test_python_service_repository_is_a_working_project(tmp_path):
    _ran, _output, files = simulate("python-service", tmp_path)
    service = {path.removeprefix("service/"): data for path, data in files.items() if path.startswith("service/")}

    for path, data in service.items():
        if path.endswith(".py"):
            compile(data, path, "exec")
        if path.endswith((".yaml", ".yml")):
            list(yaml.safe_load_all(data))
    assert tomllib.loads(service["pyproject.toml"].decode())["project"]["name"] == "payments-api"
    assert service[".python-version"] == b"3.12\n"
    dockerfile = service["Dockerfile"].decode()
    assert "FROM python:3.12-slim" in dockerfile
    assert "USER 10001:10001" in dockerfile
    assert (
        service[".github/workflows/ci.yaml"]
        == (golden_path("python-service").directory / "skeleton/.github/workflows/ci.yaml").read_bytes()
    )
    catalog = yaml.safe_load(service["catalog-info.yaml"])
    assert catalog["metadata"]["description"] == 'Takes payments: cards, "wallets" and more'
    assert catalog["spec"] == {
        "type": "service",
        "lifecycle": "experimental",
        "owner": "group:default/team_a",
        "system": "system:default/payments",
    }
    annotations = catalog["metadata"]["annotations"]
    assert "github.com/project-slug" not in annotations
    assert annotations["argocd/app-name"] == "payments-api"
    assert annotations["backstage.io/kubernetes-id"] == "payments-api"
    assert annotations["backstage.io/techdocs-ref"] == "dir:."
    assert 'service="payments-api"' in annotations["prometheus.io/rule"]
    assert yaml.safe_load(service["mkdocs.yml"])["nav"] == [{"Home": "index.md"}]
    assert service["docs/index.md"].startswith(b"# payments-api\n")


def test_python_service_form_guides_the_user():
    parameters = golden_path("python-service").definition.parameters
    fields = {field.name: field for field in form_fields(parameters[0])}

    assert fields["owner"].widget == "entity-picker"
    assert fields["owner"].entity_picker["kinds"] == ["Group"]
    assert fields["owner"].entity_picker["only_my_teams"] is True
    assert fields["system"].entity_picker["kinds"] == ["System"]
    assert fields["system"].required is False
    assert validate_inputs(parameters, {"name": "Payments", "description": "x", "owner": "group:default/a"}) == {
        "name": ["Must match ^[a-z][a-z0-9-]*[a-z0-9]$ (lowercase letters, digits and dashes)"]
    }
    choices = {field.name: field.choices for field in form_fields(parameters[1])}
    assert choices["pythonVersion"][0] == ("3.13", "Python 3.13")


def test_add_postgres_database_defines_a_table_only_when_asked(tmp_path):
    ran, output, with_table = simulate("add-postgres-database", tmp_path / "a")
    _ran, _output, without = simulate(
        "add-postgres-database", tmp_path / "b", data={"databaseName": "orders", "createTable": False}
    )

    folder = "gitops/apps/payments-api/databases/orders"
    assert sorted(with_table) == [
        f"{folder}/{name}.yaml"
        for name in ("application", "claim", "database", "externalsecret", "kustomization", "table")
    ]
    assert f"{folder}/table.yaml" not in without
    assert "table.yaml" not in without[f"{folder}/kustomization.yaml"].decode()
    kinds = by_kind(with_table)
    assert kinds["PostgreSQLInstance"]["spec"]["parameters"] == {"storageGB": 100, "version": "16"}
    assert kinds["PostgreSQLInstance"]["metadata"]["namespace"] == "team-a"
    assert kinds["Table"]["spec"]["name"] == "order_lines"
    assert kinds["Table"]["metadata"]["name"] == "orders-order-lines"
    assert kinds["ExternalSecret"]["spec"]["secretStoreRef"] == {
        "name": "platform-secrets",
        "kind": "ClusterSecretStore",
    }
    assert kinds["ExternalSecret"]["spec"]["dataFrom"] == [{"extract": {"key": "databases/team-a/orders"}}]
    assert (
        kinds["Database"]["spec"]["connection"]["postgres"]["uri"]["valueFrom"]["secretKeyRef"]["name"]
        == (kinds["ExternalSecret"]["spec"]["target"]["name"])
    )
    assert kinds["Application"]["spec"]["source"]["path"] == "apps/payments-api/databases/orders"
    assert ran["gitops"][1]["pullRequest"] is True
    assert ran["gitops"][1]["targetPath"] == "apps/payments-api/databases/orders"
    assert output["links"] == [{"title": "Pull request", "url": "https://github.com/acme/gitops/pull/7"}]


def test_add_postgres_database_asks_for_the_table_name_only_when_a_table_is_wanted():
    parameters = golden_path("add-postgres-database").definition.parameters

    assert validate_inputs(parameters, {"databaseName": "orders"}) == {"tableName": ["This field is required."]}
    assert validate_inputs(parameters, {"databaseName": "orders", "createTable": False}) == {}
    fields = {field.name: field for field in form_fields(parameters[0], {"createTable": False})}
    assert fields["tableName"].visible is False


def test_create_team_namespace_sets_quota_limits_and_default_deny(tmp_path):
    ran, _output, files = simulate("create-team-namespace", tmp_path)

    kinds = by_kind(files)
    assert kinds["Namespace"]["metadata"]["name"] == "team-a"
    assert kinds["Namespace"]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert kinds["ResourceQuota"]["spec"]["hard"]["requests.cpu"] == "64"
    assert kinds["ResourceQuota"]["spec"]["hard"]["pods"] == "200"
    assert kinds["LimitRange"]["spec"]["limits"][0]["type"] == "Container"
    policy = kinds["NetworkPolicy"]["spec"]
    assert policy == {"podSelector": {}, "policyTypes": ["Ingress"]}
    assert ran["gitops"][1]["targetPath"] == "teams/team-a"
    assert ran["gitops"][1]["pullRequest"] is True


def test_scale_service_changes_the_autoscaler_through_a_pull_request(tmp_path):
    ran, _output, files = simulate("scale-service", tmp_path / "scale")
    _created, _output, created = simulate("python-service", tmp_path / "create")

    assert list(files) == ["gitops/apps/payments-api/hpa.yaml"]
    scaled = yaml.safe_load(files["gitops/apps/payments-api/hpa.yaml"])
    original = yaml.safe_load(created["gitops/apps/payments-api/hpa.yaml"])
    assert (scaled["spec"]["minReplicas"], scaled["spec"]["maxReplicas"]) == (3, 9)
    scaled["spec"] |= {"minReplicas": 2, "maxReplicas": 6}
    assert scaled == original
    action, step_input = ran["gitops"]
    assert action == "gitops:commit"
    assert step_input["pullRequest"] is True
    assert step_input["title"] == "payments-api: scale to 3-9 replicas"
    assert step_input["description"] == "Black Friday"


def test_scale_service_never_lets_the_maximum_fall_below_the_minimum(tmp_path):
    _ran, _output, files = simulate("scale-service", tmp_path, data={"minReplicas": 5, "maxReplicas": 2})

    spec = yaml.safe_load(files["gitops/apps/payments-api/hpa.yaml"])["spec"]
    assert (spec["minReplicas"], spec["maxReplicas"]) == (5, 5)


def test_deprecate_service_updates_the_catalog_entry(tmp_path):
    ran, output, files = simulate("deprecate-service", tmp_path)

    assert files == {}
    assert ran["catalog"] == (
        "catalog:update",
        {
            "entityRef": "component:default/payments-api",
            "changes": {
                "lifecycle": "deprecated",
                "annotations": {
                    "portico.dev/deprecation-reason": "Replaced by payments-v2",
                    "portico.dev/sunset-date": "2026-03-31",
                    "portico.dev/replaced-by": "",
                },
            },
        },
    )
    assert output["links"][0]["entityRef"] == "component:default/payments-api"


def test_delete_service_needs_approval_and_confirmation(tmp_path):
    definition = golden_path("delete-service").definition
    ran, _output, _files = simulate("delete-service", tmp_path / "a")
    on_github, _output, _files = simulate("delete-service", tmp_path / "b", platform={"github": True})

    assert definition.approval_required is True
    assert validate_inputs(definition.parameters, {"reason": "x"}) == {"confirm": ["Must be checked."]}
    assert ran["gitops"][1]["deletePaths"] == ["apps/payments-api"]
    assert ran["archive"] == ("git:archive", {"repoName": "payments-api"})
    assert "archive-github" not in ran
    assert on_github["archive-github"] == ("github:archive", {"projectSlug": "acme/payments-api"})
    assert ran["catalog"][1]["changes"]["lifecycle"] == "retired"
