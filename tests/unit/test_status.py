"""Reading a model server's state: rollout, pods' reasons, OVMS's /v1/config, and the drift report."""
import json

from ansible_collections.openvino.ovms.plugins.module_utils import _drift, _status

from helpers import render


def dep(desired=2, updated=2, ready=2, available=2, current=2, generation=2, observed=2, revision="3"):
    return {"metadata": {"generation": generation, "annotations": {_status.REVISION_ANNOTATION: revision}},
            "spec": {"replicas": desired},
            "status": {"observedGeneration": observed, "replicas": current, "updatedReplicas": updated,
                       "readyReplicas": ready, "availableReplicas": available}}


def test_rollout_complete_only_when_every_count_matches_the_new_generation():
    assert _status.rollout_state(dep())["complete"] is True
    assert _status.rollout_state(dep(observed=1))["complete"] is False   # new generation not seen yet
    assert _status.rollout_state(dep(ready=1))["complete"] is False
    assert _status.rollout_state(dep(current=3))["complete"] is False    # an old pod still runs
    assert _status.rollout_state(dep())["revision"] == 3
    assert _status.progress_line("ns", "x", _status.rollout_state(dep(ready=1))) == \
        "ns/x: 1/2 pods ready, 2/2 updated, 2 available"


def pod(name="p", ready=False, waiting=None, last=None, scheduled=None, ready_cond=None):
    cs = {"name": "ovms", "ready": ready, "restartCount": 1 if last else 0, "state": {}}
    if waiting:
        cs["state"]["waiting"] = waiting
    if last:
        cs["lastState"] = {"terminated": last}
    conds = [{"type": "Ready", "status": "True" if ready else "False", **(ready_cond or {})}]
    if scheduled:
        conds.append(dict(type="PodScheduled", status="False", **scheduled))
    return {"metadata": {"name": name}, "spec": {}, "status": {"phase": "Running", "conditions": conds,
                                                               "containerStatuses": [cs] if not scheduled else []}}


def test_pod_reasons_name_what_a_human_looks_for():
    crash = _status.pod_summary(pod(waiting={"reason": "CrashLoopBackOff"}, last={"exitCode": 137, "reason": "OOMKilled"}))
    assert crash["reason"] == "container ovms: CrashLoopBackOff (last exit code 137, OOMKilled)"
    pull = _status.pod_summary(pod(waiting={"reason": "ImagePullBackOff", "message": "Back-off pulling image \"x\""}))
    assert pull["reason"] == 'container ovms: ImagePullBackOff: Back-off pulling image "x"'
    unsched = _status.pod_summary(pod(scheduled={"reason": "Unschedulable",
                                                 "message": "0/2 nodes are available: 2 Insufficient gpu.intel.com/i915."}))
    assert unsched["reason"] == "Unschedulable: 0/2 nodes are available: 2 Insufficient gpu.intel.com/i915."
    notready = _status.pod_summary(pod(ready_cond={"reason": "ContainersNotReady"}))
    assert notready["reason"] == "not ready: ContainersNotReady"
    assert _status.pod_summary(pod(ready=True))["reason"] is None


def test_model_states_follow_ovms_wire_format():
    config = {"ok": {"model_version_status": [
        {"version": "1", "state": "END", "status": {"error_code": "OK", "error_message": "OK"}},
        {"version": "2", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": "OK"}}]},
        "bad": {"model_version_status": [{"version": "1", "state": "LOADING",
                                          "status": {"error_code": "UNKNOWN", "error_message": "UNKNOWN"}}]},
        "empty": {"model_version_status": []}}
    states = _status.model_states(config, ["ok", "bad", "empty", "absent"])
    assert states["ok"]["available"] is True and states["ok"]["state"] == "AVAILABLE"
    assert states["bad"]["available"] is False and _status.model_failed(states["bad"])
    assert states["empty"]["state"] == "NO VERSIONS"
    assert states["absent"]["state"] == "MISSING"
    assert not _status.model_failed(states["empty"])
    assert set(_status.model_states(config, [])) == {"ok", "bad", "empty"}


def test_expected_models_from_args_or_generated_config():
    single = render({})
    assert _status.expected_models(single["Deployment"], {}) == ["resnet"]
    multi = render({"models_settings": {"single_model_mode": False, "models": [
        {"name": "a", "base_path": "gs://b/a"}, {"name": "b", "base_path": "gs://b/b"}]}})
    cms = {multi["ConfigMap"]["metadata"]["name"]: multi["ConfigMap"]}
    assert _status.expected_models(multi["Deployment"], cms) == ["a", "b"]
    on_volume = render({"models_settings": {"single_model_mode": False, "config_path": "/models/c.json"},
                        "models_repository": {"storage_type": "cluster", "models_volume_claim": "m"}})
    assert _status.expected_models(on_volume["Deployment"], {}) is None


def test_proxy_path_uses_the_rest_port_name():
    assert _status.proxy_path("ns", "svc", "/v1/config") == "/api/v1/namespaces/ns/services/svc:rest/proxy/v1/config"
    assert [p["name"] for p in render({})["Service"]["spec"]["ports"]] == ["grpc", "rest"]


def test_drift_report_classifies_every_object():
    results = [{"name": "a", "namespace": "n", "objects": [
        {"kind": "Deployment", "name": "a-ovms", "action": "updated",
         "changes": [{"path": "spec.replicas", "before": 3, "after": 1}]},
        {"kind": "Service", "name": "a-ovms", "action": "unchanged"},
        {"kind": "Secret", "name": "a-aws-secret", "action": "created"},
        {"kind": "HorizontalPodAutoscaler", "name": "a-ovms", "action": "deleted"}]},
        {"name": "b", "namespace": "n", "objects": [{"kind": "Service", "name": "b-ovms", "action": "unchanged"}]},
        {"name": "c", "namespace": "n", "failed": True, "msg": "boom"}]
    rep = _drift.report(results)
    assert rep["summary"] == ("drift: 2 model servers, 1 drifted, 1 NOT CHECKED (errors: the report is incomplete); "
                              "objects: 2 in sync, 1 drifted, 1 missing, 1 unexpected extra")
    assert [s["in_sync"] for s in rep["servers"]] == [False, True]
    md = _drift.markdown(rep)
    assert "## n/a: DRIFT" in md and "| spec.replicas | `3` | `1` |" in md and "**n/c**: not checked: boom" in md
    json.dumps(rep)  # the report is JSON-able


def test_a_fleet_check_that_failed_as_a_whole_is_an_error_not_a_clean_report():
    rep = _drift.report([{"failed": True, "msg": "servers[1].spec.service_parameters.grpc_port: expected ..."}])
    assert rep["servers"] == [] and rep["errors"] == [
        {"server": "every declared server", "error": "servers[1].spec.service_parameters.grpc_port: expected ..."}]
    assert "1 NOT CHECKED" in rep["summary"]


def test_pods_that_waiting_will_not_cure_are_marked_stuck():
    assert _status.pod_summary(pod(waiting={"reason": "CrashLoopBackOff"}, last={"exitCode": 1}))["stuck"] == \
        "CrashLoopBackOff"
    assert _status.pod_summary(pod(waiting={"reason": "ErrImagePull"}))["stuck"] == "ErrImagePull"
    assert _status.pod_summary(pod(waiting={"reason": "ContainerCreating"}))["stuck"] is None  # still starting
    assert _status.pod_summary(pod(ready_cond={"reason": "ContainersNotReady"}))["stuck"] is None


def fleet_info(complete=True, ready=False, models_failed=(), deadline=False, exists=True, desired=1, ready_pods=1):
    models = dict((m, {"error_code": "UNKNOWN"}) for m in models_failed)
    return {"exists": exists, "ready": ready, "models_failed": list(models_failed), "models": models,
            "rollout": {"complete": complete, "deadline_exceeded": deadline, "ready": ready_pods, "desired": desired}}


def test_fleet_verdict_separates_failed_from_still_pending():
    assert _status.fleet_verdict(fleet_info(ready=True)) == ("ready", None)
    assert _status.fleet_verdict(fleet_info(complete=False), stuck="CrashLoopBackOff") == ("failed", "CrashLoopBackOff")
    assert _status.fleet_verdict(fleet_info(complete=False, deadline=True)) == ("failed", "ProgressDeadlineExceeded")
    assert _status.fleet_verdict(fleet_info(models_failed=["m"])) == ("failed", "model m: load failed (error_code UNKNOWN)")
    assert _status.fleet_verdict(fleet_info(complete=False, desired=2, ready_pods=1)) == \
        ("pending", "rolling out (1/2 ready)")
    assert _status.fleet_verdict(fleet_info()) == ("pending", "models not AVAILABLE yet")
    assert _status.fleet_verdict(fleet_info(exists=False)) == ("pending", "no Deployment")
    assert _status.fleet_verdict(fleet_info(ready=True), error="GET x: 403") == ("failed", "GET x: 403")


def test_fleet_progress_is_one_line_for_the_whole_fleet():
    def r(name, status, cause=None, complete=True):
        return {"namespace": "ns", "name": name, "status": status, "cause": cause, "exists": True,
                "rollout": {"complete": complete}}
    results = [r("a", "ready"), r("b", "failed", "CrashLoopBackOff", complete=False),
               r("c", "failed", "model c: load failed (error_code UNKNOWN)"), r("d", "pending", complete=False),
               r("e", "pending")]
    assert _status.fleet_progress(results) == (
        "1/5 ready, 2 failing: ns/b CrashLoopBackOff, ns/c model c: load failed (error_code UNKNOWN); "
        "2 waiting (1 rolling out, 1 loading models)")
    assert _status.fleet_progress([r("a", "ready")]) == "1/1 ready"
    many = [r("s%d" % i, "failed", "CrashLoopBackOff") for i in range(12)]
    assert _status.fleet_progress(many, limit=2) == "0/12 ready, 12 failing: ns/s0 CrashLoopBackOff, " \
        "ns/s1 CrashLoopBackOff, ..."


def test_fleet_entries_are_namespace_slash_name():
    assert _status.parse_server_ref("ovms/resnet") == ("ovms", "resnet")
    for bad in ("resnet", "a/b/c", "/x", "ns/", "ns/Not_A_Name", 3):
        try:
            _status.parse_server_ref(bad)
        except _status._spec.SpecError as exc:
            assert "servers" in str(exc)
        else:
            raise AssertionError("accepted %r" % (bad,))


def test_fleet_report_merges_apply_wait_and_rollback_per_server():
    applied = [{"namespace": "ns", "name": n, "outcome": "applied", "changed": True, "revision_before": 1,
                "service": {"name": n + "-ovms"}} for n in ("ok", "crash", "slow")]
    applied.append({"namespace": "ns", "name": "bad", "outcome": "failed", "failed": True, "changed": False,
                    "msg": "HTTP 422"})
    waited = [{"namespace": "ns", "name": "ok", "status": "ready", "cause": None, "failure": None,
               "models": {"ok": {"available": True}}},
              {"namespace": "ns", "name": "crash", "status": "failed", "cause": "CrashLoopBackOff",
               "failure": "pod x: container ovms: CrashLoopBackOff", "models": {}},
              {"namespace": "ns", "name": "slow", "status": "pending", "cause": "rolling out (0/1 ready)",
               "failure": "ns/slow-ovms: 0/1 pods ready", "models": {}}]
    rolled = [{"item": {"namespace": "ns", "name": "crash"}, "rolled_back": "restored from revision 1"},
              {"item": {"namespace": "ns", "name": "slow"}, "failed": True, "msg": "no ReplicaSet of revision 1"}]
    report = _status.fleet_report(applied, waited, rolled, pending_cause="not ready within 60 s")
    by_name = dict((s["name"], s) for s in report["servers"])
    assert by_name["ok"]["ready"] and by_name["ok"]["models_available"] == ["ok"] and by_name["ok"]["status"] == "ready"
    assert by_name["crash"]["rolled_back"] == "restored from revision 1"
    assert by_name["slow"]["status"] == "failed"  # the deadline passed
    assert by_name["slow"]["cause"] == "not ready within 60 s: rolling out (0/1 ready)"
    assert by_name["slow"]["rolled_back"] == "rollback failed: no ReplicaSet of revision 1"
    assert by_name["bad"]["status"] == "failed" and by_name["bad"]["cause"] == "HTTP 422"
    assert report["failed"] == ["ns/crash: CrashLoopBackOff -- rolled back: restored from revision 1",
                                "ns/slow: not ready within 60 s: rolling out (0/1 ready) -- rolled back: rollback "
                                "failed: no ReplicaSet of revision 1", "ns/bad: HTTP 422"]
    assert report["summary"] == "1/4 ready, 3 failed"
    # stopped early (fail fast): a pending server is not verified, not failed
    early = _status.fleet_report(applied[:3], waited, pending_cause="not waited for: stopped early")
    assert early["pending"] == ["ns/slow: not waited for: stopped early: rolling out (0/1 ready)"]
    assert early["summary"] == "1/3 ready, 1 failed, 1 not verified"
    # not waited for (check mode, modelserver_wait false): the apply's outcome
    assert [s["status"] for s in _status.fleet_report(applied[:1])["servers"]] == ["applied"]
    assert _status.fleet_report(applied[:1], waited)["lines"] == ["ns/ok: ready; models AVAILABLE: ok"]
