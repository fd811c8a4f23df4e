"""The modelserver role's fleet path (modelserver_servers) end to end, on the local control plane with the OVMS
stand-in: 20 servers deployed, waited for and verified at once, 2 of them failing (one crash-looping pod, simulated
by KWOK; one model whose load fails, answered by the stand-in). The 18 others come up and are verified, the 2 are
named with their causes, the play fails at the end; with rollback on, only the 2 are rolled back."""
from __future__ import annotations

from kubernetes import client

from ansible_runner import run_playbook, task_results
from test_role import FAIL_LABEL, failure_message

GOOD_IMAGE = "openvino/model_server:2026.3"
NEW_IMAGE = "openvino/model_server:2026.4"
CRASH, LOAD_ERROR = "f18", "f19"


def fleet(namespace, image=GOOD_IMAGE, failing=False):
    """20 ModelServer manifests, each serving its own model (the stand-in answers per model name); failing: f18's pods
    crash-loop (KWOK's fail label)."""
    servers = []
    for i in range(20):
        name = "f%02d" % i
        labels = {FAIL_LABEL: "crash"} if failing and name == CRASH else {}
        servers.append({"apiVersion": "intel.com/v1alpha1", "kind": "ModelServer",
                        "metadata": {"name": name, "namespace": namespace},
                        "spec": {"image_name": image,
                                 "models_settings": {"model_name": name, "model_path": "gs://bucket/%s" % name},
                                 "deployment_parameters": {"replicas": 1, "pod_labels": labels}}})
    return servers


def fleet_play(servers, rollback=False):
    # the timeout is far above what the fleet needs: the 2 failures must be seen for what they are, not time out
    return [{"hosts": "localhost", "gather_facts": False, "tasks": [{
        "name": "fleet under test", "ansible.builtin.include_role": {"name": "openvino.ovms.modelserver"},
        "vars": {"modelserver_servers": servers, "modelserver_wait_timeout": 240, "modelserver_progress_interval": 2,
                 "modelserver_rollback_on_failure": rollback}}]}]


def fleet_fact(out):
    """modelserver_fleet, as the role's last set_fact made it."""
    return [r for r in task_results(out, "Collect each server's result") if "ansible_facts" in r][-1][
        "ansible_facts"]["modelserver_fleet"]


def image_of(api_client, namespace, name):
    dep = client.AppsV1Api(api_client).read_namespaced_deployment(name + "-ovms", namespace)
    return dep.spec.template.spec.containers[0].image, dep.spec.template.metadata.labels or {}


def check_fleet_failure(out, namespace):
    """The 18 are ready and verified, the 2 failed with their causes, the play failed at the end."""
    msg = failure_message(out)
    assert msg and msg.startswith("18/20 ready, 2 failed"), msg
    assert "%s/%s: CrashLoopBackOff" % (namespace, CRASH) in msg, msg
    assert "%s/%s: model %s: load failed (error_code UNKNOWN)" % (namespace, LOAD_ERROR, LOAD_ERROR) in msg, msg
    # the play failed at its end: the failure is the role's last task, after every server had its chance
    last = out["plays"][-1]["tasks"][-1]
    assert last["task"]["name"].endswith("Fail naming every failed server with its cause"), last["task"]["name"]
    fact = fleet_fact(out)
    by_name = dict((s["name"], s) for s in fact["servers"])
    assert len(by_name) == 20
    for name, server in by_name.items():
        if name in (CRASH, LOAD_ERROR):
            assert server["status"] == "failed" and not server["ready"], server
        else:
            assert server["status"] == "ready" and server["ready"], server
            assert server["models_available"] == [name], server  # verified through OVMS's REST API
            assert server["applied"] == "applied" and server["rolled_back"] is None, server
    assert "container ovms: CrashLoopBackOff (last exit code 1, Error)" in by_name[CRASH]["failure"]
    # one progress line per window for the whole fleet; the last one names the 2 failing servers
    progress = [r["msg"] for r in task_results(out, "Show the fleet's progress")]
    assert progress[-1].startswith("18/20 ready, 2 failing: "), progress
    assert "%s/%s CrashLoopBackOff" % (namespace, CRASH) in progress[-1]
    # one watch per namespace and window, not one per server
    for window in task_results(out, "Watch the fleet's rollouts"):
        assert window["api_requests"]["by_verb"].get("WATCH", 0) < 20, window["api_requests"]
    return by_name


def test_fleet_of_20_with_a_crash_loop_and_a_failed_load(namespace, kubeconfig, tmp_path, standin, kwok_cluster):
    standin(dict(("f%02d" % i, {"mode": "available"}) for i in range(19)))
    standin({LOAD_ERROR: {"mode": "load_error"}})
    out, _ = run_playbook(fleet_play(fleet(namespace, failing=True)), kubeconfig, tmp_path)
    check_fleet_failure(out, namespace)
    # rollback is off: nothing was rolled back, the failed servers stay for inspection
    assert task_results(out, "Roll back each failed server")[-1].get("skipped") is True


def test_fleet_rollback_restores_only_the_failed_servers(api_client, namespace, kubeconfig, tmp_path, standin,
                                                         kwok_cluster):
    standin(dict(("f%02d" % i, {"mode": "available"}) for i in range(20)))
    good, _ = run_playbook(fleet_play(fleet(namespace)), kubeconfig, tmp_path)
    assert failure_message(good) is None, failure_message(good)
    assert fleet_fact(good)["summary"] == "20/20 ready, 0 failed"
    # the change: a new image for all 20; f18's pods crash-loop, f19's model no longer loads
    standin({LOAD_ERROR: {"mode": "load_error"}})
    out, _ = run_playbook(fleet_play(fleet(namespace, image=NEW_IMAGE, failing=True), rollback=True),
                          kubeconfig, tmp_path)
    by_name = check_fleet_failure(out, namespace)
    rolled = task_results(out, "Roll back each failed server")[-1]["results"]
    assert sorted(r["item"]["name"] for r in rolled) == [CRASH, LOAD_ERROR]  # only the 2
    msg = failure_message(out)
    for name in (CRASH, LOAD_ERROR):
        restored = "Deployment %s/%s-ovms pod template restored from revision 1 (image %s)" % (namespace, name,
                                                                                             GOOD_IMAGE)
        assert by_name[name]["rolled_back"] == restored and restored in msg, (by_name[name], msg)
        image, labels = image_of(api_client, namespace, name)
        assert image == GOOD_IMAGE and FAIL_LABEL not in labels
    for i in range(18):
        assert image_of(api_client, namespace, "f%02d" % i)[0] == NEW_IMAGE  # the 18 keep the change
