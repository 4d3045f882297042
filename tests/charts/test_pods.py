"""The chart's pods: every long-running container probed, every container locked down with resources,
the node's network for the test bed only, beat alone, the executor Ready only where it leads, the
migrations before install and upgrade, the uninstall's cleanup, and where code is kept."""

from __future__ import annotations

import pytest

from tests.charts.conftest import SCENARIOS, Render, containers, hook, of_kind, pod_specs, scenario_values
from tests.executors.kubernetes import pod_security

#: Long-running containers: probed. Run-to-completion ones (the migrations, the cleanup, the test
#: pod) are not: nothing is routed to them, and their deadline bounds them.
SERVING = ("api", "worker", "beat", "executor")


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
