"""The modelserver role end to end: apply, wait for the pods (KWOK), verify the models through the API server's
service proxy against the OVMS stand-in (a test double) inside a network namespace, failures, rollback; and the
drift playbook."""
from __future__ import annotations

import json
from pathlib import Path

from kubernetes import client

from ansible_runner import awx_extra_vars, run_playbook, task_results
from conftest import wait_for

ROOT = Path(__file__).resolve().parents[2]
FAIL_LABEL = "kwok.ovms.test/fail"


def role_play(namespace, name, model, rollback=False, timeout=30, pod_labels=None, image="openvino/model_server:2026.3",
              ovms_url=""):
    return [{"hosts": "localhost", "gather_facts": False, "tasks": [{
        "name": "role under test", "ansible.builtin.include_role": {"name": "openvino.ovms.modelserver"},
        "vars": {"modelserver_name": name, "modelserver_namespace": namespace, "modelserver_image_name": image,
                 "modelserver_models_settings": {"model_name": model, "model_path": "gs://bucket/%s" % model},
                 "modelserver_deployment_parameters": {"replicas": 2, "pod_labels": pod_labels or {}},
                 "modelserver_wait_timeout": timeout, "modelserver_progress_interval": 2,
                 "modelserver_rollback_on_failure": rollback, "modelserver_ovms_url": ovms_url}}]}]


def failure_message(out):
    failed = [r for play in out["plays"] for t in play["tasks"] for r in [t["hosts"]["localhost"]] if r.get("failed")]
    return failed[-1]["msg"] if failed else None


def deployment(api_client, namespace, name):
    return client.AppsV1Api(api_client).read_namespaced_deployment(name + "-ovms", namespace)


def test_happy_path_through_the_api_server_proxy(namespace, kubeconfig, tmp_path, standin):
    standin({"happy": {"mode": "available"}})
    out, raw = run_playbook(role_play(namespace, "happy", "happy"), kubeconfig, tmp_path)
    assert failure_message(out) is None, failure_message(out)
    progress = [r["msg"] for r in task_results(out, "Show progress")]
    assert progress and progress[-1] == "%s/happy-ovms: 2/2 pods ready, 2/2 updated, 2 available" % namespace
    report = task_results(out, "Report")[-1]["msg"]
    assert "models AVAILABLE: happy" in report
    asked = task_results(out, "Ask OVMS")[-1]["modelservers"][0]
    assert asked["models"]["happy"]["ready_endpoint"] == 200
    assert asked["models"]["happy"]["state"] == "AVAILABLE"


def test_fullname_override_is_waited_for_and_verified(api_client, namespace, kubeconfig, tmp_path, standin):
    """The role finds the Deployment and Service named by fullnameOverride (only the spec knows that name)."""
    standin({"named": {"mode": "available"}})
    play = role_play(namespace, "named", "named")
    play[0]["tasks"][0]["vars"]["modelserver_fullname_override"] = "vision-server"
    out, _ = run_playbook(play, kubeconfig, tmp_path)
    assert failure_message(out) is None, failure_message(out)
    progress = [r["msg"] for r in task_results(out, "Show progress")]
    assert progress[-1] == "%s/vision-server: 2/2 pods ready, 2/2 updated, 2 available" % namespace
    assert task_results(out, "Ask OVMS")[-1]["modelservers"][0]["models_ok"] is True
    dep = client.AppsV1Api(api_client).read_namespaced_deployment("vision-server", namespace)
    assert dep.spec.selector.match_labels == {"app": "vision-server", "release": "named"}


def test_direct_url_and_explicit_kubeconfig(namespace, kubeconfig, tmp_path, standin, pod_network):
    from localcluster import podnet

    standin({"direct": {"mode": "available"}})
    url = podnet.probe_url(pod_network)
    play = role_play(namespace, "direct", "direct", ovms_url=url)
    play[0]["tasks"][0]["vars"]["modelserver_kubeconfig"] = str(kubeconfig)
    # the environment names no usable kubeconfig: every request must use modelserver_kubeconfig
    out, _ = run_playbook(play, tmp_path / "no-such-kubeconfig", tmp_path)
    assert failure_message(out) is None, failure_message(out)
    assert task_results(out, "Ask OVMS")[-1]["modelservers"][0]["models_ok"] is True


def test_model_loading_then_available_is_waited_for(namespace, kubeconfig, tmp_path, standin):
    # LOADING for 3 s from the first request the stand-in sees about it: the first answer is LOADING on any machine
    standin({"slow": {"mode": "delay", "seconds": 3}})
    out, _ = run_playbook(role_play(namespace, "slow", "slow"), kubeconfig, tmp_path)
    assert failure_message(out) is None, failure_message(out)
    states = [r["msg"] for r in task_results(out, "Show the models' states")]
    assert any("model slow: LOADING" in s for s in states), states  # it was seen loading
    assert states[-1] == "every model AVAILABLE"


def test_model_that_stays_loading_fails_naming_it(namespace, kubeconfig, tmp_path, standin):
    standin({"stuck": {"mode": "never"}})
    out, _ = run_playbook(role_play(namespace, "stuck", "stuck", timeout=8), kubeconfig, tmp_path)
    msg = failure_message(out)
    assert msg and "models not AVAILABLE within 8 s" in msg
    assert "model stuck: LOADING (error_code OK: OK)" in msg


def test_load_error_fails_at_once_with_the_error(namespace, kubeconfig, tmp_path, standin):
    standin({"broken": {"mode": "load_error"}})
    out, _ = run_playbook(role_play(namespace, "broken", "broken", timeout=120), kubeconfig, tmp_path)
    msg = failure_message(out)
    assert msg and "model broken: LOADING (error_code UNKNOWN: UNKNOWN)" in msg
    # a failed load ends the wait: one look at OVMS, not a poll until the 120 s timeout
    assert len(task_results(out, "Ask OVMS")) == 1, "it should not keep polling a failed load"


def test_pods_never_ready_fail_naming_each_pod_and_why(api_client, namespace, kubeconfig, tmp_path, standin):
    standin({"never": {"mode": "available"}})
    out, _ = run_playbook(role_play(namespace, "never", "never", timeout=8, pod_labels={FAIL_LABEL: "crash"}),
                          kubeconfig, tmp_path)
    msg = failure_message(out)
    assert msg and "did not become ready within 8 s" in msg
    pods = client.CoreV1Api(api_client).list_namespaced_pod(
        namespace, label_selector="app.kubernetes.io/instance=never").items
    assert len(pods) == 2
    for pod in pods:
        assert "pod %s: container ovms: CrashLoopBackOff (last exit code 1, Error)" % pod.metadata.name in msg
    assert "BackOff" in msg  # the Warning events


def test_rollback_restores_the_previous_revision(api_client, namespace, kubeconfig, tmp_path, standin):
    standin({"rb": {"mode": "available"}})
    first, _ = run_playbook(role_play(namespace, "rb", "rb"), kubeconfig, tmp_path)
    assert failure_message(first) is None, failure_message(first)
    good_image = deployment(api_client, namespace, "rb").spec.template.spec.containers[0].image
    # revision 2 crashes: the role rolls back to revision 1 and says so
    out, _ = run_playbook(role_play(namespace, "rb", "rb", rollback=True, timeout=8, image="openvino/model_server:2026.4",
                                    pod_labels={FAIL_LABEL: "crash"}), kubeconfig, tmp_path)
    msg = failure_message(out)
    assert msg and "CrashLoopBackOff" in msg
    assert "rolled back: Deployment %s/rb-ovms pod template restored from revision 1 (image %s)" % (
        namespace, good_image) in msg
    dep = deployment(api_client, namespace, "rb")
    assert dep.spec.template.spec.containers[0].image == good_image
    assert FAIL_LABEL not in dep.spec.template.metadata.labels
    wait_for(lambda: (lambda d: d.status.ready_replicas == 2 and d.status.updated_replicas == 2)(
        deployment(api_client, namespace, "rb")), 60, "the rolled-back pods to be ready")


def test_failed_first_deploy_with_rollback_removes_it(api_client, namespace, kubeconfig, tmp_path, standin):
    standin({"first": {"mode": "load_error"}})
    out, _ = run_playbook(role_play(namespace, "first", "first", rollback=True), kubeconfig, tmp_path)
    msg = failure_message(out)
    assert "model first: LOADING (error_code UNKNOWN" in msg and "deleted every object it owned" in msg
    deps = client.AppsV1Api(api_client).list_namespaced_deployment(
        namespace, label_selector="app.kubernetes.io/instance=first").items
    assert deps == [] or all(d.metadata.deletion_timestamp for d in deps)


def test_string_inputs_verify_false_skips_the_verification(namespace, kubeconfig, tmp_path, standin):
    """-e name=value gives strings: modelserver_verify=false must skip the verification (the model here never
    becomes AVAILABLE), the other booleans and numbers must work as strings too."""
    standin({"unverified": {"mode": "never"}})
    out, _ = run_playbook(role_play(namespace, "unverified", "unverified"), kubeconfig, tmp_path, extra_args=[
        "-e", "modelserver_verify=false", "-e", "modelserver_wait=YES", "-e", "modelserver_wait_timeout=60",
        "-e", "modelserver_progress_interval=2", "-e", "modelserver_prune=on", "-e", "modelserver_force_conflicts=off"])
    assert failure_message(out) is None, failure_message(out)
    assert task_results(out, "Watch the rollout"), "modelserver_wait=YES: it waits for the rollout"
    assert task_results(out, "Ask OVMS") == [], "modelserver_verify=false: OVMS is not asked"
    report = task_results(out, "Report")[-1]["msg"]
    assert report.startswith("%s/unverified-ovms is ready: " % namespace) and "models AVAILABLE" not in report


def deploy_survey_answers(namespace, name, **answers):
    return dict(dict(ovms_name=name, ovms_namespace=namespace, ovms_model_name=name,
                     ovms_model_path="gs://bucket/%s" % name), **answers)


def test_awx_survey_no_rollback_leaves_a_failed_first_install(api_client, namespace, kubeconfig, tmp_path, standin):
    """deploy.yml with the deploy survey's answers as AWX sends them (Replicas and the timeout as numbers, "Roll back
    on failure" as the string "false"): the failed first install stays for inspection."""
    standin({"kept": {"mode": "load_error"}})
    survey = awx_extra_vars(tmp_path, "survey_deploy.json", **deploy_survey_answers(
        namespace, "kept", ovms_replicas=2, modelserver_wait_timeout=30, modelserver_rollback_on_failure="false"))
    out, _ = run_playbook(None, kubeconfig, tmp_path, path=ROOT / "playbooks" / "deploy.yml", extra_args=survey)
    msg = failure_message(out)
    assert msg and "%s/kept: model kept: load failed (error_code UNKNOWN)" % namespace in msg, msg
    assert "rolled back" not in msg, msg
    assert task_results(out, "Roll back each failed server")[-1].get("skipped") is True
    dep = deployment(api_client, namespace, "kept")
    assert dep.spec.replicas == 2 and dep.metadata.deletion_timestamp is None


def test_string_rollback_true_through_deploy_removes_a_failed_first_install(api_client, namespace, kubeconfig, tmp_path,
                                                                           standin):
    """deploy.yml with -e name=value strings: modelserver_rollback_on_failure=True removes the failed first install,
    ovms_create_namespaces=no leaves the namespaces alone, ovms_replicas=2 is a number."""
    standin({"removed": {"mode": "load_error"}})
    args = []
    for key, value in deploy_survey_answers(namespace, "removed", ovms_replicas="2", ovms_create_namespaces="no",
                                            modelserver_rollback_on_failure="True",
                                            modelserver_wait_timeout="30").items():
        args += ["-e", "%s=%s" % (key, value)]
    out, _ = run_playbook(None, kubeconfig, tmp_path, path=ROOT / "playbooks" / "deploy.yml", extra_args=args)
    msg = failure_message(out)
    assert msg and "model removed: load failed (error_code UNKNOWN)" in msg, msg
    assert "deleted every object it owned" in msg, msg
    assert task_results(out, "Create the namespaces")[-1].get("skipped") is True
    assert task_results(out, "Apply the model servers")[-1]["results"][0]["revision_before"] == 0  # a first install
    deps = client.AppsV1Api(api_client).list_namespaced_deployment(
        namespace, label_selector="app.kubernetes.io/instance=removed").items
    assert deps == [] or all(d.metadata.deletion_timestamp for d in deps)


def test_drift_playbook_reports_an_edit_and_fails_on_drift(api_client, namespace, kubeconfig, tmp_path, standin):
    standin({"drifty": {"mode": "available"}})
    server = {"apiVersion": "intel.com/v1alpha1", "kind": "ModelServer",
              "metadata": {"name": "drifty", "namespace": namespace},
              "spec": {"models_settings": {"model_name": "drifty", "model_path": "gs://b/drifty"}}}
    deploy, _ = run_playbook(None, kubeconfig, tmp_path, path=ROOT / "playbooks" / "deploy.yml",
                             extra_vars={"ovms_modelservers": [server]})
    assert failure_message(deploy) is None, failure_message(deploy)
    report_dir = tmp_path / "report"
    # the drift survey's answers as AWX sends them: "Fail on drift" is the string "true"
    survey = awx_extra_vars(tmp_path, "survey_drift.json", drift_report_path=str(report_dir), fail_on_drift="true",
                            ovms_namespaces=namespace)
    clean, _ = run_playbook(None, kubeconfig, tmp_path, path=ROOT / "playbooks" / "drift.yml",
                            extra_vars={"ovms_modelservers": [server]}, extra_args=survey)
    assert failure_message(clean) is None, failure_message(clean)
    assert json.loads((report_dir / "drift.json").read_text())["drifted_servers"] == 0

    client.AppsV1Api(api_client).patch_namespaced_deployment_scale(
        "drifty-ovms", namespace, {"spec": {"replicas": 4}}, field_manager="someone")
    drift, _ = run_playbook(None, kubeconfig, tmp_path, path=ROOT / "playbooks" / "drift.yml",
                            extra_vars={"ovms_modelservers": [server]}, extra_args=survey)
    assert failure_message(drift) == ("drift: 1 model servers, 1 drifted; objects: 1 in sync, 1 drifted, "
                                      "0 missing, 0 unexpected extra")
    # -e fail_on_drift=false (a string): the same drift is reported, the job does not fail
    report_only, _ = run_playbook(None, kubeconfig, tmp_path, path=ROOT / "playbooks" / "drift.yml",
                                  extra_vars={"ovms_modelservers": [server], "drift_report_path": str(report_dir)},
                                  extra_args=["-e", "fail_on_drift=false"])
    assert failure_message(report_only) is None, failure_message(report_only)
    assert task_results(report_only, "Summary")[-1]["msg"].startswith(
        "drift over 1 cluster: 1 model servers, 1 drifted (localhost: 1);")
    report = json.loads((report_dir / "drift.json").read_text())
    dep = next(o for o in report["servers"][0]["objects"] if o["kind"] == "Deployment")
    assert dep["status"] == "drifted"
    assert {"path": "spec.replicas", "before": 4, "after": 1} in dep["changes"]
    assert "| spec.replicas | `4` | `1` |" in (report_dir / "drift.md").read_text()
    assert deployment(api_client, namespace, "drifty").spec.replicas == 4, "the drift check must not change anything"


def test_drift_reports_missing_and_unexpected_extra_servers(namespace, kubeconfig, tmp_path):
    def ms(name):
        return {"apiVersion": "intel.com/v1alpha1", "kind": "ModelServer",
                "metadata": {"name": name, "namespace": namespace},
                "spec": {"models_settings": {"model_name": name, "model_path": "gs://b/%s" % name}}}
    # "stray" is deployed but not declared; "ghost" is declared but not deployed
    stray, _ = run_playbook([{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "deploy stray", "openvino.ovms.modelserver": {"definition": ms("stray")}}]}], kubeconfig, tmp_path)
    assert failure_message(stray) is None, failure_message(stray)
    report_dir = tmp_path / "report"
    out, _ = run_playbook(None, kubeconfig, tmp_path, path=ROOT / "playbooks" / "drift.yml",
                          extra_vars={"ovms_modelservers": [ms("ghost")], "ovms_namespaces": namespace,
                                      "drift_report_path": str(report_dir)})
    assert failure_message(out) is None, failure_message(out)  # fail_on_drift is off by default
    report = json.loads((report_dir / "drift.json").read_text())
    by_server = dict((s["server"], s) for s in report["servers"])
    assert {o["status"] for o in by_server["%s/ghost" % namespace]["objects"]} == {"missing"}
    assert {(o["kind"], o["status"]) for o in by_server["%s/stray" % namespace]["objects"]} == {
        ("Deployment", "unexpected extra"), ("Service", "unexpected extra")}
    assert report["counts"] == {"in sync": 0, "drifted": 0, "missing": 2, "unexpected extra": 2}
    assert client_objects_exist(kubeconfig, namespace, "stray-ovms"), "the drift check must not delete anything"


def client_objects_exist(kubeconfig, namespace, name):
    from kubernetes import config

    apps = client.AppsV1Api(config.new_client_from_config(config_file=str(kubeconfig)))
    return apps.read_namespaced_deployment(name, namespace) is not None
