"""Requests per run, by verb, for a 2-object and a 7-object model server: what the module reports (api_requests)
and what the API server's audit log saw. Asserts the bounds the listing promises: only the kinds the server owns
or is being given are listed, and no kind the cluster does not serve (no Route on plain Kubernetes)."""
from __future__ import annotations

import collections

from ansible_runner import run_task
from test_modelserver_module import SECRET_VALUES, audit_offset

TWO = {"models_settings": {"model_name": "small", "model_path": "gs://bucket/small"}}
SEVEN = {
    "models_settings": {"single_model_mode": False, "models": [{"name": "big", "base_path": "s3://models/big"}]},
    "models_repository": {"storage_type": "S3", "aws_secret_access_key": SECRET_VALUES[0],
                          "aws_access_key_id": SECRET_VALUES[1]},
    "deployment_parameters": {"resources": {"requests": {"cpu": "1"}}},
    "autoscaling": {"enabled": True, "max_replicas": 3, "target_cpu_utilization": 80},
    "pod_disruption_budget": {"enabled": True, "min_available": "1"},
    "ingress": {"enabled": True, "host": "big.example.com"},
    "server_settings": {"file_system_poll_wait_seconds": 0},
}


def audit_requests(cluster, since, namespace):
    """Every request of this test's module runs (the admin user, about this namespace or discovery), by verb."""
    import json

    with open(cluster.run_dir / "logs" / "audit.log", "rb") as handle:
        handle.seek(since)
        events = [json.loads(line) for line in handle.read().decode().splitlines() if line.strip()]
    return [e for e in events if e.get("stage") == "ResponseComplete" and e["user"]["username"] == "kubernetes-admin"
            and "openvino.ovms" in (e.get("userAgent") or "")]


def run_counted(args, kubeconfig, tmp_path, local_cluster, namespace, **kw):
    offset = audit_offset(local_cluster) if local_cluster else None
    result = run_task("openvino.ovms.modelserver", args, kubeconfig, tmp_path, **kw)
    assert not result.get("failed"), result.get("msg")
    seen = audit_requests(local_cluster, offset, namespace) if local_cluster else []
    return result, seen


def by_verb(events):
    return dict(collections.Counter(e["verb"] for e in events))


def test_requests_by_verb_per_run(namespace, kubeconfig, tmp_path, local_cluster):
    rows, problems = [], []
    for label, spec, objects in (("2-object", TWO, 2), ("7-object", SEVEN, 7)):
        name = "small" if objects == 2 else "big"
        args = dict(spec, name=name, namespace=namespace)
        for run in ("create", "no-op", "check", "absent"):
            if run == "absent":
                result, seen = run_counted({"name": name, "namespace": namespace, "state": "absent"}, kubeconfig,
                                           tmp_path, local_cluster, namespace)
            else:
                result, seen = run_counted(args, kubeconfig, tmp_path, local_cluster, namespace,
                                           check=run == "check")
            if run == "create":
                assert len(result["objects"]) == objects, result["objects"]
            rows.append((label, run, result["api_requests"]["by_verb"], by_verb(seen)))
            print("requests %s %s: module %s, audit log %s" % rows[-1])
            lists = [e for e in seen if e["verb"] == "list"]
            # never a kind the cluster does not serve: no Route on plain Kubernetes
            routes = [e["requestURI"] for e in seen if "route.openshift.io" in e["requestURI"] and e["verb"] == "list"]
            if routes:
                problems.append("%s %s listed Routes, which this cluster does not serve: %s" % (label, run, routes))
            # only the kinds the server owns are listed (the Deployment's kind included)
            if run in ("no-op", "check", "absent") and len(lists) > objects:
                problems.append("%s %s: %d LISTs for %d objects: %s" % (label, run, len(lists), objects,
                                                                       [e["requestURI"] for e in lists]))
    assert not problems, problems
