"""openvino.ovms.modelserver against the real API server: create, idempotence, drift in check mode, repair,
conflicts, prune, state=absent, secrets never in the output, and API request counts from the audit log."""
from __future__ import annotations

import json
from pathlib import Path

from kubernetes import client

from ansible_runner import run_task
from conftest import wait_for

SECRET_VALUES = ["aws-SECRET-value-1f2e", "AKIA-key-id-9c8b", "session-TOKEN-77aa"]


def spec_args(namespace, **overrides):
    args = {
        "name": "resnet", "namespace": namespace,
        "models_settings": {"model_name": "resnet", "model_path": "s3://models/resnet50"},
        "models_repository": {"storage_type": "S3", "aws_secret_access_key": SECRET_VALUES[0],
                              "aws_access_key_id": SECRET_VALUES[1], "aws_session_token": SECRET_VALUES[2],
                              "aws_region": "eu-west-1"},
        "deployment_parameters": {"replicas": 2},
    }
    args.update(overrides)
    return args


def owned(api_client, namespace):
    selector = "app.kubernetes.io/managed-by=openvino.ovms,app.kubernetes.io/instance=resnet"
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    auto, policy = client.AutoscalingV2Api(api_client), client.PolicyV1Api(api_client)
    found = []
    for lister, kind in ((core.list_namespaced_secret, "Secret"), (core.list_namespaced_config_map, "ConfigMap"),
                         (apps.list_namespaced_deployment, "Deployment"), (core.list_namespaced_service, "Service"),
                         (auto.list_namespaced_horizontal_pod_autoscaler, "HorizontalPodAutoscaler"),
                         (policy.list_namespaced_pod_disruption_budget, "PodDisruptionBudget")):
        found += [(kind, o.metadata.name) for o in lister(namespace, label_selector=selector).items]
    return sorted(found)


def audit_events(cluster, since):
    """Audit events (ResponseComplete) of the admin user written after byte offset `since`."""
    with open(cluster.run_dir / "logs" / "audit.log", "rb") as handle:
        handle.seek(since)
        lines = handle.read().decode().splitlines()
    events = [json.loads(line) for line in lines if line.strip()]
    return [e for e in events if e.get("stage") == "ResponseComplete" and e["user"]["username"] == "kubernetes-admin"]


def audit_offset(cluster):
    return (cluster.run_dir / "logs" / "audit.log").stat().st_size


def args_of(api_client, namespace):
    dep = client.AppsV1Api(api_client).read_namespaced_deployment("resnet-ovms", namespace)
    return dep.spec.template.spec.containers[0].args


def assert_no_secret(result):
    for value in SECRET_VALUES:
        assert value not in result.raw, "a credential appears in ansible's output"


def test_lifecycle(api_client, namespace, kubeconfig, tmp_path, local_cluster):
    # 1. create
    created = run_task("openvino.ovms.modelserver", spec_args(namespace), kubeconfig, tmp_path, diff=True)
    assert not created.get("failed"), created.get("msg")
    assert created["changed"] is True
    assert {(o["kind"], o["action"]) for o in created["objects"]} == {
        ("Secret", "created"), ("Deployment", "created"), ("Service", "created")}
    assert created["service"]["rest_url"] == "http://resnet-ovms.%s.svc:8081" % namespace
    assert_no_secret(created)
    assert owned(api_client, namespace) == [("Deployment", "resnet-ovms"), ("Secret", "resnet-ovms-aws-secret"),
                                            ("Service", "resnet-ovms")]
    dep = client.AppsV1Api(api_client).read_namespaced_deployment("resnet-ovms", namespace)
    env = {e.name: e for e in dep.spec.template.spec.containers[0].env}
    assert env["AWS_SECRET_ACCESS_KEY"].value_from.secret_key_ref.name == "resnet-ovms-aws-secret"
    assert env["AWS_ACCESS_KEY_ID"].value is None

    # 2. a second run changes nothing, and writes at most one request per object
    offset = audit_offset(local_cluster) if local_cluster else None
    again = run_task("openvino.ovms.modelserver", spec_args(namespace), kubeconfig, tmp_path)
    assert again["changed"] is False
    assert {o["action"] for o in again["objects"]} == {"unchanged"}
    assert again["api_requests"]["writes"] <= len(again["objects"])
    if local_cluster:
        events = audit_events(local_cluster, offset)
        writes = [e for e in events if e["verb"] in ("create", "update", "patch", "delete")]
        assert len(writes) <= len(again["objects"]), [e["requestURI"] for e in writes]
        print("no-op run: %d API requests seen by the API server, %d writes" % (len(events), len(writes)))

    # 3. another client edits a container arg: check mode reports it with a diff and changes nothing
    patched = [a if not a.startswith("--log_level") else "--log_level=TRACE" for a in args_of(api_client, namespace)]
    client.AppsV1Api(api_client).patch_namespaced_deployment(
        "resnet-ovms", namespace, {"spec": {"template": {"spec": {"containers": [{"name": "ovms", "args": patched}]}}}},
        field_manager="someone-else")
    drift = run_task("openvino.ovms.modelserver", spec_args(namespace), kubeconfig, tmp_path, check=True, diff=True)
    assert drift["changed"] is True
    dep_entry = next(o for o in drift["objects"] if o["kind"] == "Deployment")
    assert dep_entry["action"] == "updated"
    assert any("--log_level=TRACE" in json.dumps(c["before"]) and "--log_level=INFO" in json.dumps(c["after"])
               for c in dep_entry["changes"])
    deployment_diff = next(d for d in drift["diff"] if d["before_header"].startswith("Deployment"))
    assert "--log_level=TRACE" in deployment_diff["before"] and "--log_level=INFO" in deployment_diff["after"]
    assert "managedFields" not in deployment_diff["before"] and "resourceVersion" not in deployment_diff["after"]
    assert "--log_level=TRACE" in args_of(api_client, namespace), "check mode must not change anything"
    assert_no_secret(drift)

    # 4. a real run takes the field back
    fixed = run_task("openvino.ovms.modelserver", spec_args(namespace), kubeconfig, tmp_path)
    assert fixed["changed"] is True
    assert "--log_level=INFO" in args_of(api_client, namespace)
    assert any("someone-else" in w for w in fixed.get("warnings", []))

    # 5. a conflict with another declarative owner is reported, naming the manager and the field
    # (through the collection's request layer: ApiClient.call_api's signature differs between kubernetes releases)
    from ansible_collections.openvino.ovms.plugins.module_utils import _reconcile

    status, body = _reconcile.Api(api_client).request(
        "PATCH", "/apis/apps/v1/namespaces/%s/deployments/resnet-ovms" % namespace,
        body={"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "resnet-ovms"},
              "spec": {"replicas": 5}},
        query=[("fieldManager", "gitops"), ("force", "true")], content_type="application/apply-patch+yaml")
    assert status == 200, body
    conflict = run_task("openvino.ovms.modelserver", spec_args(namespace), kubeconfig, tmp_path)
    assert conflict.get("failed") is True
    assert '.spec.replicas owned by "gitops"' in conflict["msg"] and "force_conflicts" in conflict["msg"]
    forced = run_task("openvino.ovms.modelserver", spec_args(namespace, force_conflicts=True), kubeconfig, tmp_path)
    assert forced["changed"] is True
    assert client.AppsV1Api(api_client).read_namespaced_deployment("resnet-ovms", namespace).spec.replicas == 2

    # 6. autoscaling on: the HPA owns the replica count and a re-apply keeps it
    hpa_args = spec_args(namespace, autoscaling={"enabled": True, "min_replicas": 1, "max_replicas": 4,
                                                 "target_cpu_utilization": 70},
                         pod_disruption_budget={"enabled": True, "min_available": "1"})
    with_hpa = run_task("openvino.ovms.modelserver", hpa_args, kubeconfig, tmp_path)
    assert not with_hpa.get("failed"), with_hpa.get("msg")
    assert ("HorizontalPodAutoscaler", "created") in {(o["kind"], o["action"]) for o in with_hpa["objects"]}
    assert client.AppsV1Api(api_client).read_namespaced_deployment("resnet-ovms", namespace).spec.replicas == 2
    client.AppsV1Api(api_client).patch_namespaced_deployment_scale(
        "resnet-ovms", namespace, {"spec": {"replicas": 3}}, field_manager="horizontal-pod-autoscaler-sim")
    hpa_again = run_task("openvino.ovms.modelserver", hpa_args, kubeconfig, tmp_path)
    assert hpa_again["changed"] is False, hpa_again["objects"]
    assert client.AppsV1Api(api_client).read_namespaced_deployment("resnet-ovms", namespace).spec.replicas == 3

    # 7. prune: turning the HPA off deletes it (and the PDB, no longer rendered)
    pruned = run_task("openvino.ovms.modelserver", spec_args(namespace), kubeconfig, tmp_path, diff=True)
    actions = {(o["kind"], o["action"]) for o in pruned["objects"]}
    assert {("HorizontalPodAutoscaler", "deleted"), ("PodDisruptionBudget", "deleted")} <= actions
    assert ("HorizontalPodAutoscaler", "resnet-ovms") not in owned(api_client, namespace)
    assert_no_secret(pruned)

    # 8. state=absent in check mode changes nothing; for real it leaves nothing owned
    would = run_task("openvino.ovms.modelserver", {"name": "resnet", "namespace": namespace, "state": "absent"},
                     kubeconfig, tmp_path, check=True)
    assert would["changed"] is True and len(owned(api_client, namespace)) == 3
    gone = run_task("openvino.ovms.modelserver", {"name": "resnet", "namespace": namespace, "state": "absent"},
                    kubeconfig, tmp_path)
    assert {o["action"] for o in gone["objects"]} == {"deleted"}
    wait_for(lambda: owned(api_client, namespace) == [], 30, "every owned object to be deleted")


def test_bad_input_fails_before_any_request(namespace, kubeconfig, tmp_path, local_cluster):
    offset = audit_offset(local_cluster) if local_cluster else None
    bad = run_task("openvino.ovms.modelserver", spec_args(namespace, service_parameters={"grpc_port": 0}),
                   kubeconfig, tmp_path)
    assert bad["failed"] is True
    assert bad["msg"] == "spec.service_parameters.grpc_port: expected a port number from 1 to 65535, got 0"
    if local_cluster:
        assert audit_events(local_cluster, offset) == []


def test_definition_and_src_give_the_same_objects(api_client, namespace, kubeconfig, tmp_path):
    manifest = {"apiVersion": "intel.com/v1alpha1", "kind": "ModelServer",
                "metadata": {"name": "ovms-sample", "namespace": namespace},
                "spec": {"image_name": "openvino/model_server:2025.4",
                         "models_settings": {"single_model_mode": True, "model_name": "resnet",
                                             "model_path": "gs://ovms-public-eu/resnet50-binary"},
                         "models_repository": {"storage_type": "google"}}}
    from_definition = run_task("openvino.ovms.modelserver", {"definition": manifest}, kubeconfig, tmp_path)
    assert from_definition["changed"] is True
    src = tmp_path / "ms.yaml"
    src.write_text(json.dumps(manifest))
    from_src = run_task("openvino.ovms.modelserver", {"src": str(src)}, kubeconfig, tmp_path)
    assert from_src["changed"] is False
    options = run_task("openvino.ovms.modelserver", dict(name="ovms-sample", namespace=namespace, **manifest["spec"]),
                       kubeconfig, tmp_path)
    assert options["changed"] is False
    dep = client.AppsV1Api(api_client).read_namespaced_deployment("ovms-sample", namespace)
    # server_settings absent altogether: the operator's Helm value (0), not the CRD's default (5)
    assert "--sequence_cleaner_poll_wait_minutes=0" in dep.spec.template.spec.containers[0].args


def test_fleet_mode_applies_many_servers_with_one_listing(api_client, namespace, kubeconfig, tmp_path):
    def server(name, replicas=1):
        return {"apiVersion": "intel.com/v1alpha1", "kind": "ModelServer",
                "metadata": {"name": name, "namespace": namespace},
                "spec": {"deployment_parameters": {"replicas": replicas},
                         "models_settings": {"model_name": name, "model_path": "gs://b/%s" % name}}}
    servers = [server("fleet-%d" % i) for i in range(5)]
    created = run_task("openvino.ovms.modelserver", {"servers": servers, "parallel": 4}, kubeconfig, tmp_path)
    assert not created.get("failed"), created.get("msg")
    assert [r["name"] for r in created["results"]] == ["fleet-%d" % i for i in range(5)]
    assert all(o["action"] == "created" for r in created["results"] for o in r["objects"])
    again = run_task("openvino.ovms.modelserver", {"servers": servers}, kubeconfig, tmp_path, check=True)
    assert again["changed"] is False
    # one namespace: one LIST per kind the five servers own (Deployments, Services; recorded on each Deployment) for
    # all of them, one dry-run PATCH per object; no other kind, no Route discovery
    assert again["api_requests"]["by_verb"] == {"GET": 2, "PATCH": 10}
    servers[2]["spec"]["deployment_parameters"]["replicas"] = 3
    drift = run_task("openvino.ovms.modelserver", {"servers": servers}, kubeconfig, tmp_path, check=True)
    assert [r["name"] for r in drift["results"] if r["changed"]] == ["fleet-2"]
    bad = run_task("openvino.ovms.modelserver", {"servers": servers + [server("Bad_Name")]}, kubeconfig, tmp_path)
    assert bad["failed"] and bad["msg"].startswith("servers[5].metadata.name: 'Bad_Name' is not a valid name")


def test_module_defaults_group_sets_both_collections_connection(namespace, kubeconfig, tmp_path):
    """group/openvino.ovms.ovms extends kubernetes.core's group: one module_defaults entry gives the kubeconfig to
    kubernetes.core.k8s_info and to this collection's modules, while the environment names an unusable one."""
    from ansible_runner import run_playbook

    def play(with_defaults):
        p = {"hosts": "localhost", "gather_facts": False, "tasks": [
            {"name": "core info", "kubernetes.core.k8s_info": {"kind": "Namespace", "name": namespace},
             "ignore_errors": True},
            {"name": "ovms info", "openvino.ovms.modelserver_info": {"namespace": namespace}, "ignore_errors": True}]}
        if with_defaults:
            p["module_defaults"] = {"group/openvino.ovms.ovms": {"kubeconfig": str(kubeconfig)}}
        return [p]

    out, _ = run_playbook(play(True), tmp_path / "no-such-kubeconfig", tmp_path)
    core, ovms = [t["hosts"]["localhost"] for t in out["plays"][0]["tasks"]]
    assert not core.get("failed"), core.get("msg")
    assert core["resources"][0]["metadata"]["name"] == namespace
    assert not ovms.get("failed"), ovms.get("msg")
    assert ovms["modelservers"] == []
    # without the defaults both fail on the environment's kubeconfig, and ours names the missing path
    out, _ = run_playbook(play(False), tmp_path / "no-such-kubeconfig", tmp_path)
    core, ovms = [t["hosts"]["localhost"] for t in out["plays"][0]["tasks"]]
    assert core.get("failed") and ovms.get("failed")
    assert ovms["msg"] == "kubeconfig %s does not exist" % (tmp_path / "no-such-kubeconfig")


def chart_made(namespace, name="ovms-sample", selector=None, labels=None):
    """A Deployment and a Service as the operator's chart makes them (Helm writes with operation Update)."""
    chart_labels = labels or {"app": name, "release": name, "chart": "ovms-4.0.0", "heritage": "Helm"}
    selector = selector or {"app": name, "release": name}
    container = {"name": "ovms", "image": "openvino/model_server:2026.3",
                 "args": ["--model_path", "gs://ovms-public-eu/resnet50-binary", "--model_name", "resnet"],
                 "ports": [{"containerPort": 8080, "name": "grpc"}, {"containerPort": 8081, "name": "rest"}]}
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": {"name": name, "namespace": namespace, "labels": chart_labels},
                  "spec": {"replicas": 1, "selector": {"matchLabels": selector},
                           "template": {"metadata": {"labels": dict(chart_labels, **selector)},
                                        "spec": {"containers": [container]}}}}
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace,
                                                                   "labels": chart_labels},
               "spec": {"selector": {"app": name}, "ports": [
                   {"name": "grpc", "port": 8080, "targetPort": 8080, "protocol": "TCP"},
                   {"name": "rest", "port": 8081, "targetPort": 8081, "protocol": "TCP"}]}}
    return deployment, service


def test_operator_made_deployment_is_taken_over_in_place(api_client, namespace, kubeconfig, tmp_path):
    """The chart's selector is ours: an operator-made Deployment is adopted with its uid, no delete."""
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    deployment, service = chart_made(namespace)
    apps.create_namespaced_deployment(namespace, deployment, field_manager="helm")
    core.create_namespaced_service(namespace, service, field_manager="helm")
    uid = apps.read_namespaced_deployment("ovms-sample", namespace).metadata.uid
    src = Path(__file__).resolve().parents[1] / "data" / "operator" / "sample.yaml"

    refused = run_task("openvino.ovms.modelserver", {"src": str(src), "namespace": namespace}, kubeconfig, tmp_path)
    assert refused["failed"] is True
    assert "Deployment %s/ovms-sample already exists and is not managed by openvino.ovms" % namespace in refused["msg"]

    taken = run_task("openvino.ovms.modelserver", {"src": str(src), "namespace": namespace, "force_conflicts": True},
                     kubeconfig, tmp_path)
    assert not taken.get("failed"), taken.get("msg")
    actions = {(o["kind"], o["name"]): o["action"] for o in taken["objects"]}
    assert actions == {("Deployment", "ovms-sample"): "adopted", ("Service", "ovms-sample"): "adopted"}
    dep = apps.read_namespaced_deployment("ovms-sample", namespace)
    assert dep.metadata.uid == uid, "taken over in place, not re-created"
    assert dep.spec.selector.match_labels == {"app": "ovms-sample", "release": "ovms-sample"}
    assert dep.metadata.labels["app.kubernetes.io/managed-by"] == "openvino.ovms"
    assert dep.metadata.labels["heritage"] == "Helm" and dep.metadata.labels["app"] == "ovms-sample"
    assert "--model_path=gs://ovms-public-eu/resnet50-binary" in dep.spec.template.spec.containers[0].args
    svc = core.read_namespaced_service("ovms-sample", namespace)
    assert svc.spec.selector == {"app": "ovms-sample"}
    again = run_task("openvino.ovms.modelserver", {"src": str(src), "namespace": namespace}, kubeconfig, tmp_path)
    assert again["changed"] is False, again["objects"]


def test_deployment_with_the_old_selector_is_refused_without_any_write(api_client, namespace, kubeconfig, tmp_path,
                                                                        local_cluster):
    """What openvino.ovms 0.1.0 made selects by app.kubernetes.io/*: refused before any write, naming the fix."""
    ours = {"app.kubernetes.io/name": "openvino-model-server", "app.kubernetes.io/instance": "resnet",
            "app.kubernetes.io/managed-by": "openvino.ovms"}
    old_selector = {"app.kubernetes.io/name": "openvino-model-server", "app.kubernetes.io/instance": "resnet"}
    deployment, _ = chart_made(namespace, "resnet-ovms", selector=old_selector, labels=ours)
    client.AppsV1Api(api_client).create_namespaced_deployment(namespace, deployment)
    offset = audit_offset(local_cluster) if local_cluster else None
    refused = run_task("openvino.ovms.modelserver", spec_args(namespace), kubeconfig, tmp_path)
    assert refused["failed"] is True
    assert "Deployment %s/resnet-ovms selects its pods by app.kubernetes.io/instance=resnet," % namespace in refused["msg"]
    assert "kubectl -n %s delete deployment resnet-ovms" % namespace in refused["msg"]
    assert_no_secret(refused)
    if local_cluster:
        writes = [e for e in audit_events(local_cluster, offset) if e["verb"] in ("create", "update", "patch", "delete")]
        assert writes == [], [e["requestURI"] for e in writes]
    # the fix it names works
    client.AppsV1Api(api_client).delete_namespaced_deployment("resnet-ovms", namespace)
    wait_for(lambda: not client.AppsV1Api(api_client).list_namespaced_deployment(namespace).items, 30,
             "the old Deployment to go")
    fixed = run_task("openvino.ovms.modelserver", spec_args(namespace), kubeconfig, tmp_path)
    assert not fixed.get("failed"), fixed.get("msg")
