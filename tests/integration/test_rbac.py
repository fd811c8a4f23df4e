"""Least privilege, proven: the whole lifecycle (deploy.yml with the role's wait and verify, drift.yml, a rollback,
undeploy.yml) as a ServiceAccount bound to exactly the Role shipped in rbac/role.yaml, with zero 403s in the API
server's audit log; and, for each rule of that Role, a run without it fails naming the missing permission."""
from __future__ import annotations

import collections
import copy
import json
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from ansible_runner import run_playbook, run_task
from conftest import wait_for
from test_modelserver_module import audit_offset
from test_role import FAIL_LABEL, ROOT, failure_message, role_play

SA = "openvino-ovms"
RULES = next(d for d in yaml.safe_load_all((ROOT / "rbac" / "role.yaml").read_text()) if d["kind"] == "Role")["rules"]


def rule_id(rule):
    return "%s:%s" % ("/".join(rule["resources"]), ",".join(rule["verbs"]))


def bind_shipped_role(api_client, namespace, tmp_path, local_cluster, drop=None):
    """Apply rbac/role.yaml (without rule `drop`) and rbac/binding.yaml in namespace; return a kubeconfig for the
    ServiceAccount, with a token from the TokenRequest API."""
    if local_cluster is None:
        pytest.skip("needs the local control plane's CA and audit log")
    rbac, core = client.RbacAuthorizationV1Api(api_client), client.CoreV1Api(api_client)
    role = next(d for d in yaml.safe_load_all((ROOT / "rbac" / "role.yaml").read_text()) if d["kind"] == "Role")
    if drop is not None:
        role = copy.deepcopy(role)
        del role["rules"][drop]
    rbac.create_namespaced_role(namespace, role)
    for doc in yaml.safe_load((ROOT / "rbac" / "binding.yaml").read_text())["items"]:
        if doc["kind"] == "ServiceAccount":
            core.create_namespaced_service_account(namespace, doc)
        else:
            for subject in doc["subjects"]:
                subject["namespace"] = namespace
            rbac.create_namespaced_role_binding(namespace, doc)
    token = core.create_namespaced_service_account_token(
        SA, namespace, {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                        "spec": {"expirationSeconds": 3600}}).status.token
    path = tmp_path / "sa.kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "sa",
        "clusters": [{"name": "local", "cluster": {"server": local_cluster.server,
                                                   "certificate-authority": str(local_cluster.run_dir / "pki" / "ca.crt")}}],
        "users": [{"name": SA, "user": {"token": token}}],
        "contexts": [{"name": "sa", "context": {"cluster": "local", "user": SA, "namespace": namespace}}]}))
    path.chmod(0o600)
    return path


def user_events(cluster, since, namespace):
    """The audit log's ResponseComplete events of the ServiceAccount since byte offset `since`."""
    user = "system:serviceaccount:%s:%s" % (namespace, SA)
    with open(cluster.run_dir / "logs" / "audit.log", "rb") as handle:
        handle.seek(since)
        events = [json.loads(line) for line in handle.read().decode().splitlines() if line.strip()]
    return [e for e in events if e.get("stage") == "ResponseComplete" and e["user"]["username"] == user]


def forbidden(events):
    return [(e["verb"], e["requestURI"]) for e in events if (e.get("responseStatus") or {}).get("code") == 403]


def server(namespace, name):
    """The same spec as test_role.role_play's (so that the role's rollback play updates this server)."""
    return {"apiVersion": "intel.com/v1alpha1", "kind": "ModelServer", "metadata": {"name": name, "namespace": namespace},
            "spec": {"image_name": "openvino/model_server:2026.3",
                     "models_settings": {"model_name": name, "model_path": "gs://bucket/%s" % name},
                     "deployment_parameters": {"replicas": 2, "pod_labels": {}}}}


def test_whole_lifecycle_as_the_shipped_role_has_no_403(api_client, namespace, tmp_path, local_cluster, standin):
    standin({"lp": {"mode": "available"}})
    kubeconfig = bind_shipped_role(api_client, namespace, tmp_path, local_cluster)
    offset = audit_offset(local_cluster)
    apps = client.AppsV1Api(api_client)
    steps = []

    def step(label, out):
        steps.append(label)
        return out

    deploy, _ = step("deploy.yml", run_playbook(None, kubeconfig, tmp_path, path=ROOT / "playbooks" / "deploy.yml",
                                                extra_vars={"ovms_modelservers": [server(namespace, "lp")],
                                                            "ovms_create_namespaces": False}))
    assert failure_message(deploy) is None, failure_message(deploy)
    assert any("models AVAILABLE: lp" in json.dumps(r.get("msg", "")) for p in deploy["plays"] for t in p["tasks"]
               for r in [t["hosts"]["localhost"]])  # the fleet's report: one line per server

    report_dir = tmp_path / "report"
    drift, _ = step("drift.yml", run_playbook(None, kubeconfig, tmp_path, path=ROOT / "playbooks" / "drift.yml",
                                              extra_vars={"ovms_modelservers": [server(namespace, "lp")],
                                                          "ovms_namespaces": namespace, "fail_on_drift": True,
                                                          "drift_report_path": str(report_dir)}))
    assert failure_message(drift) is None, failure_message(drift)
    assert json.loads((report_dir / "drift.json").read_text())["counts"]["in sync"] == 2

    good_image = apps.read_namespaced_deployment("lp-ovms", namespace).spec.template.spec.containers[0].image
    play = role_play(namespace, "lp", "lp", rollback=True, timeout=8, image="openvino/model_server:2026.4",
                     pod_labels={FAIL_LABEL: "crash"})
    rollback, _ = step("role with a failing update and rollback", run_playbook(play, kubeconfig, tmp_path))
    msg = failure_message(rollback)
    assert msg and "rolled back: Deployment %s/lp-ovms pod template restored from revision 1 (image %s)" % (
        namespace, good_image) in msg, msg
    assert apps.read_namespaced_deployment("lp-ovms", namespace).spec.template.spec.containers[0].image == good_image

    undeploy, _ = step("undeploy.yml", run_playbook(None, kubeconfig, tmp_path, path=ROOT / "playbooks" / "undeploy.yml",
                                                    extra_vars={"ovms_modelservers": [server(namespace, "lp")]}))
    assert failure_message(undeploy) is None, failure_message(undeploy)
    wait_for(lambda: not [d for d in apps.list_namespaced_deployment(
        namespace, label_selector="app.kubernetes.io/instance=lp").items if not d.metadata.deletion_timestamp],
        30, "the Deployment to be deleted")

    events = user_events(local_cluster, offset, namespace)
    assert events, "the audit log shows no request of the ServiceAccount: the runs did not use it"
    print("lifecycle as %s: %d requests, by verb %s, 403s: %d" % (
        SA, len(events), dict(collections.Counter(e["verb"] for e in events)), len(forbidden(events))))
    assert forbidden(events) == [], forbidden(events)


def spec(namespace, **groups):
    args = {"name": "r", "namespace": namespace,
            "models_settings": {"model_name": "r", "model_path": "gs://bucket/r"}}
    args.update(groups)
    return args


S3 = {"models_repository": {"storage_type": "S3", "aws_access_key_id": "AKIA-rbac-test", "aws_secret_access_key": "x"}}

# One module call per rule that needs it (resource -> how to exercise it; `needs`: what the admin prepares first).
EXERCISE = {
    "secrets": dict(call=lambda ns: ("openvino.ovms.modelserver", spec(ns, **S3)), denied=("list", "secrets")),
    "services": dict(call=lambda ns: ("openvino.ovms.modelserver", spec(ns)), denied=("list", "services")),
    "deployments": dict(call=lambda ns: ("openvino.ovms.modelserver", spec(ns)), denied=("list", "deployments")),
    "horizontalpodautoscalers": dict(call=lambda ns: ("openvino.ovms.modelserver", spec(
        ns, autoscaling={"enabled": True, "max_replicas": 2, "target_cpu_utilization": 80})),
        denied=("list", "horizontalpodautoscalers")),
    "poddisruptionbudgets": dict(call=lambda ns: ("openvino.ovms.modelserver", spec(
        ns, pod_disruption_budget={"enabled": True, "min_available": "1"})), denied=("list", "poddisruptionbudgets")),
    "ingresses": dict(call=lambda ns: ("openvino.ovms.modelserver", spec(
        ns, ingress={"enabled": True, "host": "r.example.com"})), denied=("list", "ingresses")),
    # plain Kubernetes does not serve Routes: the rule is for OpenShift, and no run here needs it
    "routes": dict(call=lambda ns: ("openvino.ovms.modelserver", spec(ns)), denied=None),
    "configmaps": dict(needs="deployed", call=lambda ns: ("openvino.ovms.modelserver_info", {
        "namespace": ns, "name": "r", "models": False}), denied=("list", "configmaps")),
    "pods": dict(needs="deployed", call=lambda ns: ("openvino.ovms.modelserver_info", {
        "namespace": ns, "name": "r", "models": False}), denied=("list", "pods")),
    "events": dict(needs="deployed", call=lambda ns: ("openvino.ovms.modelserver_info", {
        "namespace": ns, "name": "r", "models": False}), denied=("list", "events")),
    "services/proxy": dict(needs="ready", call=lambda ns: ("openvino.ovms.modelserver_info", {
        "namespace": ns, "name": "r", "models": True}), denied=("get", "services/proxy")),
    "replicasets": dict(call=lambda ns: ("openvino.ovms.modelserver", {
        "namespace": ns, "name": "r", "state": "rollback", "revision": 1}), denied=("list", "replicasets")),
}


def test_every_rule_is_exercised():
    assert sorted(EXERCISE) == sorted(r["resources"][0] for r in RULES)
    assert all(len(r["resources"]) == 1 for r in RULES), "one resource per rule, so that each is tested alone"


@pytest.mark.parametrize("index", range(len(RULES)), ids=[rule_id(r) for r in RULES])
def test_without_a_rule_the_failure_names_the_missing_permission(index, api_client, kubeconfig, namespace, tmp_path,
                                                                 local_cluster):
    rule = RULES[index]
    how = EXERCISE[rule["resources"][0]]
    if how.get("needs"):
        admin = run_task("openvino.ovms.modelserver", spec(namespace), kubeconfig, tmp_path)
        assert not admin.get("failed"), admin.get("msg")
        if how["needs"] == "ready":
            apps = client.AppsV1Api(api_client)
            wait_for(lambda: (apps.read_namespaced_deployment("r-ovms", namespace).status.ready_replicas or 0) > 0,
                     60, "a ready pod")
    sa_kubeconfig = bind_shipped_role(api_client, namespace, tmp_path, local_cluster, drop=index)
    offset = audit_offset(local_cluster)
    module, args = how["call"](namespace)
    result = run_task(module, args, sa_kubeconfig, tmp_path)
    denied = forbidden(user_events(local_cluster, offset, namespace))
    if how["denied"] is None:
        assert not result.get("failed"), result.get("msg")
        assert denied == []
        print("without %s: the run succeeds (no Route API on this cluster)" % rule_id(rule))
        return
    verb, resource = how["denied"]
    assert result.get("failed"), "the run succeeded without %s" % rule_id(rule)
    msg = result["msg"]
    assert 'cannot %s resource "%s"' % (verb, resource) in msg, msg
    assert "rbac/role.yaml" in msg, msg
    assert denied, "the audit log shows no 403"
    print("without %s: %s" % (rule_id(rule), msg))
