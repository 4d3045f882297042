"""What the chart renders, read as Kubernetes will (standing in for helm-unittest, which cannot be
installed here): secrets only in the Secret, ``existingSecret`` honoured, every container probed
and locked down, the settings ones the platform reads, the executor's rights no wider than the
README lists, and the test bed's values the only way to the node's network."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.charts.conftest import SCENARIOS, Manifest, hook, of_kind, pod_specs
from tests.charts.tools import CHART
from tests.executors.kubernetes import pod_security

Render = Callable[..., list[Manifest]]
ROOT = Path(__file__).resolve().parents[2]
SECRET_KEYS = {"secret-key": "LAMBENT_SECRET_KEY", "master-key": "LAMBENT_MASTER_KEY",
               "database-url": "LAMBENT_DATABASE_URL", "redis-url": "LAMBENT_REDIS_URL"}
#: Long-running containers: probed. Run-to-completion ones (the migrations, the cleanup, the test
#: pod) are not: nothing is routed to them, and their deadline bounds them.
SERVING = ("api", "worker", "beat", "executor")


def scenario_values(scenario: str) -> dict[str, Any]:
    return yaml.safe_load((CHART / "ci" / f"{scenario}-values.yaml").read_text())


def containers(manifests: list[Manifest]) -> list[tuple[str, Manifest, Manifest]]:
    return [(f"{name}/{container['name']}", spec, container)
            for name, spec in pod_specs(manifests) for container in spec["containers"]]


def env_of(container: Manifest) -> dict[str, Manifest]:
    return {variable["name"]: variable for variable in container.get("env", [])}


# --- secrets ---------------------------------------------------------------------------------

@pytest.mark.parametrize("scenario", SCENARIOS)
def test_no_secret_is_in_a_configmap_or_a_pod_spec(render: Render, scenario: str) -> None:
    given = [value for key, value in scenario_values(scenario)["secrets"].items() if value and key != "existingSecret"]
    for manifest in render(scenario):
        if manifest["kind"] == "Secret":
            continue
        text = yaml.safe_dump(manifest)
        assert not [value for value in given if value in text], f"{manifest['kind']}/{manifest['metadata']['name']}"
        if manifest["kind"] == "ConfigMap":
            assert not set(manifest["data"]) & {*SECRET_KEYS.values(), "LAMBENT_METRICS_TOKEN"}


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if not scenario_values(s)["secrets"].get("existingSecret")])
def test_the_secret_holds_the_values_given(render: Render, scenario: str) -> None:
    given = scenario_values(scenario)["secrets"]
    secrets = [m for m in of_kind(render(scenario), "Secret") if not hook(m)]
    assert [secret["metadata"]["name"] for secret in secrets] == ["lambent"]
    data = {key: base64.b64decode(value).decode() for key, value in secrets[0]["data"].items()}
    assert data["secret-key"] == given["secretKey"] and data["master-key"] == given["masterKey"]
    assert data["database-url"] == given["databaseUrl"] and data["redis-url"] == given["redisUrl"]
    assert data.get("metrics-token") == (given.get("metricsToken") or None)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_platform_container_takes_its_secrets_from_the_secret(render: Render, scenario: str) -> None:
    manifests = render(scenario)
    expected = scenario_values(scenario)["secrets"].get("existingSecret") or "lambent"
    for name, _, container in containers(manifests):
        if "/lambent-cleanup" in name:  # runs after the release's Secret is gone, with its token only
            assert not any("valueFrom" in variable for variable in container.get("env", []))
            continue
        env = env_of(container)
        for key, variable in SECRET_KEYS.items():
            reference = env[variable]["valueFrom"]["secretKeyRef"]
            wanted = "lambent-migrate" if "/lambent-migrate" in name and expected == "lambent" else expected
            assert (reference["name"], reference["key"]) == (wanted, key), name


def test_an_existing_secret_is_used_and_none_is_made(render: Render) -> None:
    manifests = render("ha")
    assert not of_kind(manifests, "Secret")
    references = [ref for _, _, container in containers(manifests) for variable in container.get("env", [])
                  if (ref := variable.get("valueFrom", {}).get("secretKeyRef"))]
    assert references and {ref["name"] for ref in references} == {"lambent-secrets"}
    monitors = of_kind(manifests, "ServiceMonitor")
    credentials = [endpoint["authorization"]["credentials"] for monitor in monitors
                   for endpoint in monitor["spec"]["endpoints"] if "authorization" in endpoint]
    assert credentials == [{"name": "lambent-secrets", "key": "metrics-token"}]


def test_secrets_are_required_and_never_given_twice(helm: Callable[..., Any]) -> None:
    missing = helm("template", "lambent", ".", "-f", "ci/minimal-values.yaml", "--set", "secrets.masterKey=",
                   check=False)
    assert missing.returncode != 0 and "secrets.masterKey is required" in missing.stderr
    short = helm("template", "lambent", ".", "-f", "ci/minimal-values.yaml", "--set", "secrets.secretKey=short",
                 check=False)
    assert short.returncode != 0 and "at least 50 characters" in short.stderr
    both = helm("template", "lambent", ".", "-f", "ci/minimal-values.yaml", "--set", "secrets.existingSecret=mine",
                check=False)
    assert both.returncode != 0 and "leave secrets.secretKey" in both.stderr


# --- pods --------------------------------------------------------------------------------------

@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_long_running_container_has_probes(render: Render, scenario: str) -> None:
    deployments = of_kind(render(scenario), "Deployment")
    assert sorted(d["metadata"]["name"] for d in deployments) == sorted(f"lambent-{c}" for c in SERVING)
    for deployment in deployments:
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                assert probe in container, f"{deployment['metadata']['name']} has no {probe}"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_container_runs_locked_down_with_resources(render: Render, scenario: str) -> None:
    manifests = render(scenario)
    testbed = scenario_values(scenario).get("testbed", {}).get("enabled", False)
    for name, spec, container in containers(manifests):
        context, pod = container["securityContext"], spec["securityContext"]
        assert pod["runAsNonRoot"] and pod["runAsUser"] != 0 and pod["seccompProfile"]["type"] == "RuntimeDefault"
        assert context["runAsNonRoot"] and context["readOnlyRootFilesystem"], name
        assert context["allowPrivilegeEscalation"] is False and context["privileged"] is False, name
        assert context["capabilities"] == {"drop": ["ALL"]}, name
        assert context["seccompProfile"]["type"] == "RuntimeDefault", name
        assert container["resources"]["requests"]["cpu"] and container["resources"]["requests"]["memory"], name
        assert container["resources"]["limits"]["memory"], name
        # A read-only root: what a process writes goes to an emptyDir (or the code volume).
        mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
        assert "/tmp" in mounts and ("/var/lib/lambent" in mounts or "/lambent-cleanup" in name), name
        volumes = {volume["name"]: volume for volume in spec["volumes"]}
        assert "emptyDir" in volumes["tmp"], name
        assert spec["enableServiceLinks"] is False or "/lambent-cleanup" in name
        assert spec["automountServiceAccountToken"] is ("/lambent-executor" in name or "/lambent-cleanup" in name)
    pods = [{"metadata": {}, "spec": spec} for _, spec in pod_specs(manifests)]
    for pod in pods:
        found = pod_security.restricted(pod)
        if testbed:  # the node's network is the test bed's one exception
            found = [line for line in found if not line.startswith(("host namespaces: spec.hostNetwork",
                                                                    "host ports:"))]
        assert found == []


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_only_the_test_bed_shares_the_nodes_network(render: Render, scenario: str) -> None:
    manifests = render(scenario)
    testbed = scenario_values(scenario).get("testbed", {}).get("enabled", False)
    for name, spec in pod_specs(manifests):
        assert spec.get("hostNetwork", False) is testbed, name
    (settings,) = [m["data"] for m in of_kind(manifests, "ConfigMap") if not hook(m)]
    binds = {name: value for name, value in settings.items() if name.endswith("_BIND")}
    assert binds and all(value.startswith("127.0.0.1:" if testbed else "0.0.0.0:") for value in binds.values())
    assert settings["LAMBENT_KUBERNETES_HOST_NETWORK"] == str(testbed).lower()
    # A test bed's pod has no address of its own: its probes knock at 127.0.0.1.
    actions = [probe[action] for _, _, container in containers(manifests)
               for kind in ("startupProbe", "readinessProbe", "livenessProbe") if (probe := container.get(kind))
               for action in ("httpGet", "tcpSocket") if action in probe]
    assert actions and all((action.get("host") == "127.0.0.1") is testbed for action in actions)


def test_beat_is_one_pod_replaced_not_rolled(render: Render) -> None:
    for scenario in SCENARIOS:
        (beat,) = [d for d in of_kind(render(scenario), "Deployment") if d["metadata"]["name"] == "lambent-beat"]
        assert beat["spec"]["replicas"] == 1 and beat["spec"]["strategy"] == {"type": "Recreate"}


def test_the_executor_is_ready_only_where_it_leads_and_routed_to_only_there(render: Render) -> None:
    manifests = render("ha")
    (executor,) = [d for d in of_kind(manifests, "Deployment") if d["metadata"]["name"] == "lambent-executor"]
    assert executor["spec"]["replicas"] == 2
    # No rollout could wait for a standby to be Ready while the leader lives.
    assert executor["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == "100%"
    (container,) = executor["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["tcpSocket"]["port"] == "executor"
    assert container["livenessProbe"]["httpGet"]["port"] == "metrics"
    (service,) = [s for s in of_kind(manifests, "Service") if s["metadata"]["name"] == "lambent-executor"]
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == "executor"


def test_the_migrations_run_before_install_and_upgrade_with_copies_of_the_settings(render: Render) -> None:
    manifests = render("minimal")
    hooks = {f"{m['kind']}/{m['metadata']['name']}": m for m in manifests if hook(m) == "pre-install,pre-upgrade"}
    assert set(hooks) == {"ConfigMap/lambent-migrate", "Secret/lambent-migrate", "Job/lambent-migrate"}
    (settings,) = [m for m in of_kind(manifests, "ConfigMap") if not hook(m)]
    (secret,) = [m for m in of_kind(manifests, "Secret") if not hook(m)]
    assert hooks["ConfigMap/lambent-migrate"]["data"] == settings["data"]
    assert hooks["Secret/lambent-migrate"]["data"] == secret["data"]
    job = hooks["Job/lambent-migrate"]
    assert int(job["metadata"]["annotations"]["helm.sh/hook-weight"]) > int(
        hooks["ConfigMap/lambent-migrate"]["metadata"]["annotations"]["helm.sh/hook-weight"])
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["migrate"] and container["envFrom"] == [{"configMapRef": {"name": "lambent-migrate"}}]


def test_uninstall_removes_what_the_executor_made(render: Render) -> None:
    manifests = [m for m in render("minimal") if hook(m) == "post-delete"]
    kinds = sorted(m["kind"] for m in manifests)
    assert kinds == ["ClusterRole", "ClusterRoleBinding", "Job", "Role", "RoleBinding", "ServiceAccount"]
    assert all("hook-succeeded" in m["metadata"]["annotations"]["helm.sh/hook-delete-policy"] for m in manifests)
    (cluster_role,) = of_kind(manifests, "ClusterRole")
    assert cluster_role["rules"] == [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list", "delete"]}]
    (role,) = of_kind(manifests, "Role")
    assert role["rules"] == [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                              "resourceNames": ["lambent-executor"], "verbs": ["delete"]}]
    assert not [m for m in render("minimal", "cleanup.enabled=false") if hook(m) == "post-delete"]


@pytest.mark.parametrize(("scenario", "claim", "made"), [
    ("minimal", None, False), ("ha", "lambent-code", False), ("runtime-class", "lambent-code", True)])
def test_code_is_kept_in_the_database_or_on_a_volume_the_api_writes_and_the_executor_reads(
        render: Render, scenario: str, claim: str | None, made: bool) -> None:
    manifests = render(scenario)
    (settings,) = [m["data"] for m in of_kind(manifests, "ConfigMap") if not hook(m)]
    assert settings["LAMBENT_CODE_STORAGE"] == ("files" if claim else "database")
    assert [m["metadata"]["name"] for m in of_kind(manifests, "PersistentVolumeClaim")] == (["lambent-code"] if made
                                                                                            else [])
    for deployment in of_kind(manifests, "Deployment"):
        spec = deployment["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in spec["volumes"]}
        mounts = {m["name"]: m for m in spec["containers"][0]["volumeMounts"]}
        if claim and deployment["metadata"]["name"] in ("lambent-api", "lambent-executor"):
            assert volumes["code"]["persistentVolumeClaim"]["claimName"] == claim
            writes = deployment["metadata"]["name"] == "lambent-api"
            assert mounts["code"]["mountPath"] == "/var/lib/lambent/code"
            assert mounts["code"].get("readOnly", False) is not writes
        else:
            assert "code" not in volumes and "code" not in mounts


# --- settings ------------------------------------------------------------------------------

@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_setting_is_one_the_platform_reads(render: Render, scenario: str) -> None:
    source = (ROOT / "platform" / "lambent" / "settings.py").read_text()
    read = set(re.findall(r'"(LAMBENT_[A-Z0-9_]+)"', source))
    for configmap in of_kind(render(scenario), "ConfigMap"):
        assert set(configmap["data"]) - read == set(), configmap["metadata"]["name"]


def backend_settings(data: dict[str, str]) -> Any:
    """The Kubernetes backend's settings, read by its own checks from a ConfigMap's variables."""
    from django.test import override_settings

    from worker.executors.kubernetes.settings import KubernetesSettings

    def mapping(name: str) -> dict[str, str]:
        return dict(pair.split("=", 1) for pair in data.get(name, "").split(",") if pair)

    def listing(name: str) -> list[str]:
        return data[name].split(",") if name in data else []

    prefix = "LAMBENT_KUBERNETES_"
    with override_settings(
            KUBERNETES_KUBECONFIG=None, KUBERNETES_CONTEXT=None,
            KUBERNETES_NAMESPACE_PATTERN=data[prefix + "NAMESPACE_PATTERN"],
            KUBERNETES_INSTALLATION=data[prefix + "INSTALLATION"],
            KUBERNETES_PLATFORM_NAMESPACE=data[prefix + "PLATFORM_NAMESPACE"],
            KUBERNETES_PLATFORM_POD_SELECTOR=mapping(prefix + "PLATFORM_POD_SELECTOR"),
            KUBERNETES_IMAGES=mapping(prefix + "IMAGES"), KUBERNETES_IMAGE_PATTERN="unnamed/{runtime}",
            KUBERNETES_POOL_SIZES=mapping(prefix + "POOL_SIZES"), KUBERNETES_POOL_SIZE=int(data[prefix + "POOL_SIZE"]),
            KUBERNETES_RUNTIME_CLASS=data.get(prefix + "RUNTIME_CLASS"),
            KUBERNETES_IMAGE_PULL_SECRETS=listing(prefix + "IMAGE_PULL_SECRETS"),
            KUBERNETES_AGENT_PORT=int(data[prefix + "AGENT_PORT"]),
            KUBERNETES_HOST_NETWORK=data[prefix + "HOST_NETWORK"] == "true",
            KUBERNETES_HOST_PORTS=data.get(prefix + "HOST_PORTS", "30000-32767"),
            KUBERNETES_USER_NAMESPACES=data[prefix + "USER_NAMESPACES"] == "true",
            KUBERNETES_EGRESS_ALLOWED=listing(prefix + "EGRESS_ALLOWED"),
            KUBERNETES_EGRESS_EXCEPT=listing(prefix + "EGRESS_EXCEPT"),
            KUBERNETES_CLUSTER_NETWORKS=listing(prefix + "CLUSTER_NETWORKS"),
            KUBERNETES_CODE_BIND=data[prefix + "CODE_BIND"], KUBERNETES_CODE_URL=data[prefix + "CODE_URL"],
            KUBERNETES_MILLICPU_PER_GB=int(data[prefix + "MILLICPU_PER_GB"]),
            KUBERNETES_POD_START_SECONDS=float(data[prefix + "POD_START_SECONDS"])):
        return KubernetesSettings.from_settings()


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_settings_are_the_ones_the_kubernetes_backend_accepts(render: Render, scenario: str) -> None:
    (data,) = [m["data"] for m in of_kind(render(scenario), "ConfigMap") if not hook(m)]
    kube = backend_settings(data)
    assert kube.platform_pod_selector == {"app.kubernetes.io/instance": "lambent",
                                          "lambent.dev/reaches-sandboxes": "true"}
    assert kube.platform_namespace == "lambent-system" and kube.installation == "lambent"
    assert set(kube.images) == {"python3.11", "python3.13"}
    assert kube.host_network is (scenario == "testbed")


def test_the_platform_pods_are_the_ones_the_sandboxes_let_in(render: Render) -> None:
    manifests = render("minimal")
    (data,) = [m["data"] for m in of_kind(manifests, "ConfigMap") if not hook(m)]
    selector = dict(pair.split("=", 1) for pair in data["LAMBENT_KUBERNETES_PLATFORM_POD_SELECTOR"].split(","))
    selected = {d["metadata"]["name"] for d in of_kind(manifests, "Deployment")
                if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()}
    assert selected == {"lambent-api", "lambent-worker", "lambent-executor"}


# --- the executor's rights ---------------------------------------------------------------------

def readme_rights() -> dict[tuple[str, str, str], set[str]]:
    """The README's table of what the executor's account needs: (scope, API group, resource) -> verbs,
    the scope ``namespace`` for a Role in the platform's namespace, else ``cluster``."""
    section = (ROOT / "README.md").read_text().split("## Running on Kubernetes", 1)[1].split("\n## ", 1)[0]
    rights = {}
    rows = re.findall(r"^\| `(\w+)`(?: \(`([\w.]+)`\))?([^|]*)\| ([a-z, ]+?)(?: \([^|]*\))? \|$", section, re.M)
    for resource, group, said, verbs in rows:
        scope = "namespace" if "platform's namespace only" in said else "cluster"
        rights[(scope, group, resource)] = {verb.strip() for verb in verbs.split(",")}
    assert len(rights) == 8, rights
    return rights


@pytest.mark.parametrize("scenario", ["minimal", "runtime-class"])
def test_the_executors_rights_are_no_wider_than_the_readme_lists(render: Render, scenario: str) -> None:
    manifests = [m for m in render(scenario) if not hook(m)]
    allowed = readme_rights()
    (cluster_role,) = of_kind(manifests, "ClusterRole")
    (role,) = of_kind(manifests, "Role")
    for scope, rules in (("cluster", cluster_role["rules"]), ("namespace", role["rules"])):
        for rule in rules:
            assert "*" not in rule["verbs"] and "*" not in rule["resources"] and "*" not in rule["apiGroups"]
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    assert set(rule["verbs"]) <= allowed[(scope, group, resource)], (scope, resource, rule["verbs"])
    named = [rule for rule in role["rules"] if set(rule["verbs"]) & {"get", "update"}]
    pull_secrets = scenario_values(scenario).get("sandboxes", {}).get("imagePullSecrets", [])
    assert named == [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                      "resourceNames": ["lambent-executor"], "verbs": ["get", "update"]},
                     *([{"apiGroups": [""], "resources": ["secrets"], "resourceNames": pull_secrets,
                         "verbs": ["get"]}] if pull_secrets else [])]
    # Secrets across namespaces only where there are pull secrets to copy.
    assert bool([rule for rule in cluster_role["rules"] if "secrets" in rule["resources"]]) is bool(pull_secrets)
    (binding,) = of_kind(manifests, "ClusterRoleBinding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "lambent-executor",
                                    "namespace": "lambent-system"}]


def test_the_rights_are_those_the_backend_calls() -> None:
    """Each verb granted is one a call of worker/executors/kubernetes makes (read from its source)."""
    source = "\n".join(path.read_text() for path in (ROOT / "worker" / "executors" / "kubernetes").glob("*.py"))
    calls = set(re.findall(r"(?:core|_networking|_api)\.(create|patch|delete|replace|read|list)_(?:namespaced_)?"
                           r"([a-z_]+?)(?:_for_all_namespaces)?\b", source))
    assert calls == {("create", "namespace"), ("create", "pod"), ("patch", "pod"), ("delete", "pod"),
                     ("list", "pod"), ("create", "network_policy"), ("create", "resource_quota"),
                     ("replace", "resource_quota"), ("create", "limit_range"), ("create", "lease"),
                     ("read", "lease"), ("replace", "lease"), ("read", "secret"), ("create", "secret"),
                     ("replace", "secret")}, "the backend calls something new: grant it in rbac.yaml"


# --- values --------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "message"), [
    ("api.portt=80", "additional properties 'portt' not allowed"),
    ("unknown=1", "additional properties 'unknown' not allowed"),
    ("executor.serviceAccount.nam=x", "additional properties 'nam' not allowed"),
    ("api.replicas=two", "got string, want integer"),
    ("api.port=0", "minimum"),
    ("image.pullPolicy=Sometimes", "value must be one of"),
    ("settings.extra.LAMBENT_SECRET_KEY=x", "invalid propertyName"),
    ("settings.extra.OTHER=x", "invalid propertyName"),
    ("secrets.databaseUrl=mysql://x", "does not match pattern"),
    ("sandboxes.namespacePattern=tenants", "does not match pattern"),
])
def test_the_schema_refuses_bad_values(helm: Callable[..., Any], value: str, message: str) -> None:
    ran = helm("template", "lambent", ".", "-f", "ci/minimal-values.yaml", "--set", value, check=False)
    assert ran.returncode != 0 and message in ran.stderr, ran.stderr


def test_the_schema_refuses_unknown_keys_everywhere() -> None:
    import json

    schema = json.loads((CHART / "values.schema.json").read_text())
    #: Kubernetes objects the chart passes on as they are (their own schema is Kubernetes').
    passed_on = {"global", "affinity.nodeAffinity", "affinity.podAffinity", "affinity.podAntiAffinity"}

    def walk(node: dict[str, Any], path: str) -> None:
        if node.get("type") == "object":
            if "properties" in node:
                assert node.get("additionalProperties") is False, path
                for key, child in node["properties"].items():
                    walk(child, f"{path}.{key}".lstrip("."))
            else:  # a map: its values have a schema
                assert isinstance(node.get("additionalProperties"), dict) or path.split(".", 1)[-1] in passed_on \
                    or path in passed_on, path
                if isinstance(node.get("additionalProperties"), dict):
                    walk(node["additionalProperties"], f"{path}.*")
        for item in [node.get("items")] if isinstance(node.get("items"), dict) else []:
            if item.get("type") == "object" and "properties" in item:
                walk(item, f"{path}[]")

    walk(schema, "")


def test_every_value_is_documented() -> None:
    """Every key of values.yaml down to a component's sub-blocks has a comment above it, but the
    fields of the Kubernetes objects a block holds as they are (requests and limits, a seccomp
    profile, capabilities), which its own comment documents."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    undocumented, parents = [], {}
    for number, line in enumerate(lines):
        match = re.match(r"^( *)([A-Za-z][\w.-]*):", line)
        if not match:
            continue
        depth = len(match.group(1))
        parents[depth] = match.group(2)
        if depth > 4 or (depth and parents.get(depth - 2) in ("resources", "seccompProfile", "capabilities")):
            continue
        above = lines[number - 1].strip() if number else ""
        if not above.startswith("#"):
            undocumented.append(line.strip())
    assert undocumented == []


def test_the_notes_say_how_to_make_the_first_tenant_and_reach_the_api(helm: Callable[..., Any]) -> None:
    notes = helm("template", "lambent", ".", "-f", "ci/minimal-values.yaml", "--namespace", "lambent-system",
                 "--show-only", "templates/NOTES.txt", check=False)
    installed = helm("install", "lambent", ".", "-f", "ci/minimal-values.yaml", "--namespace", "lambent-system",
                     "--dry-run=client", check=False)
    text = installed.stdout if installed.returncode == 0 else notes.stdout
    assert "lambent tenant create" in text and "port-forward svc/lambent-api" in text, installed.stderr
