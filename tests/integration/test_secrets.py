"""No credential in any output: every playbook and module path (deploy with --diff, --check --diff, drift.yml,
render.yml --diff, modelserver_info, a failing rollout and its rollback, refusals of bad specs, undeploy.yml) runs at
-vvv with the default callback and marker credentials in the S3 and Azure fields; everything printed, the drift reports and every
object in the namespace except Secrets is searched for the markers (and their base64 forms): 0 hits."""
from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

from kubernetes import client, dynamic
from kubernetes.client.rest import ApiException
from kubernetes.dynamic.resource import ResourceList

from conftest_paths import COLLECTIONS_DIR

ROOT = Path(__file__).resolve().parents[2]
FAIL_LABEL = "kwok.ovms.test/fail"


def markers():
    tag = uuid.uuid4().hex[:12]
    return {
        "aws_access_key_id": "AKIAMRK%sID" % tag.upper(),
        "aws_secret_access_key": "mrk-%s-s3-secret" % tag,
        "aws_session_token": "mrk-%s-s3-session" % tag,
        "azure_storage_connection_string": ("DefaultEndpointsProtocol=https;AccountName=mrkacct;"
                                            "AccountKey=mrk-%s-azure-key;EndpointSuffix=core.windows.net" % tag),
        "misspelled": "mrk-%s-misspelled" % tag,
        "junk": "mrk-%s-junk" % tag,
    }


def needles(mark):
    """What must never show: each marker, the Azure key alone, and the base64 of each (a Secret's data)."""
    out = dict(mark)
    out["azure_account_key"] = re.search(r"AccountKey=([^;]+)", mark["azure_storage_connection_string"]).group(1)
    for key, value in list(out.items()):
        out[key + " (base64)"] = base64.b64encode(value.encode()).decode()
    return out


def manifest(name, namespace, model, repository, **spec):
    body = {"image_name": "openvino/model_server:2026.3",
            "models_settings": {"model_name": model, "model_path": "s3://bucket/%s" % model},
            "models_repository": repository, "deployment_parameters": {"replicas": 1}}
    body.update(spec)
    return {"apiVersion": "intel.com/v1alpha1", "kind": "ModelServer",
            "metadata": {"name": name, "namespace": namespace}, "spec": body}


def s3(mark):
    return {"storage_type": "S3", "aws_access_key_id": mark["aws_access_key_id"],
            "aws_secret_access_key": mark["aws_secret_access_key"], "aws_session_token": mark["aws_session_token"],
            "aws_region": "eu-west-1"}


def azure(mark):
    return {"storage_type": "azure", "azure_storage_connection_string": mark["azure_storage_connection_string"]}


class Runs:
    """ansible-playbook at -vvv with the default callback; keeps everything printed."""

    def __init__(self, kubeconfig, tmp_path):
        self.kubeconfig, self.tmp_path, self.outputs = kubeconfig, tmp_path, {}

    def __call__(self, label, playbook, extra_vars=None, *flags):
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS_DIR), ANSIBLE_STDOUT_CALLBACK="default",
                   K8S_AUTH_KUBECONFIG=str(self.kubeconfig), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
        cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-vvv", "-i", "localhost,", "-c", "local",
               str(playbook), "-e", "ansible_python_interpreter=%s" % sys.executable]
        if extra_vars is not None:
            path = self.tmp_path / ("%s-vars.json" % label)
            path.write_text(json.dumps(extra_vars))
            cmd += ["-e", "@%s" % path]
        proc = subprocess.run(cmd + list(flags), env=env, capture_output=True, text=True, timeout=600)
        self.outputs[label] = proc.stdout + proc.stderr
        (self.tmp_path / ("%s.out" % label)).write_text(self.outputs[label])
        return proc


def recap(output):
    m = re.search(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)\s+"
                  r"rescued=(\d+)\s+ignored=(\d+)", output)
    assert m, "no PLAY RECAP in:\n" + output[-3000:]
    return dict(zip(("ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored"),
                    (int(g) for g in m.groups())))


def namespace_objects(api_client, namespace):
    """Every object of every namespaced kind the API server serves and lists, except Secrets: {kind: [objects]}."""
    dyn = dynamic.DynamicClient(api_client)
    found = {}
    for res in dyn.resources.search(namespaced=True):
        if isinstance(res, ResourceList) or res.kind == "Secret" or "list" not in (res.verbs or []) or "/" in res.name:
            continue
        try:
            items = res.get(namespace=namespace).to_dict().get("items", [])
        except ApiException:
            continue
        found["%s/%s" % (res.group_version, res.kind)] = items
    return found


def hits(text, needle_map):
    """{needle name: occurrences} of the needles found in text."""
    return dict((k, text.count(v)) for k, v in sorted(needle_map.items()) if v in text)


def test_no_credential_in_any_output(api_client, namespace, kubeconfig, tmp_path, standin, local_cluster):
    mark = markers()
    needle_map = needles(mark)
    standin({"mka": {"mode": "available"}, "mkb": {"mode": "available"}})
    a = manifest("s3srv", namespace, "mka", s3(mark))
    b = manifest("azsrv", namespace, "mkb", azure(mark))
    run = Runs(kubeconfig, tmp_path)
    paths = []

    # 1. deploy.yml (apply, wait, verify through the stand-in) with --diff
    proc = run("deploy", ROOT / "playbooks" / "deploy.yml", {"ovms_modelservers": [a, b]}, "--diff")
    assert proc.returncode == 0 and recap(run.outputs["deploy"])["failed"] == 0, run.outputs["deploy"][-4000:]
    assert "models AVAILABLE: mka" in run.outputs["deploy"] and "models AVAILABLE: mkb" in run.outputs["deploy"]
    paths += ["deploy.yml (apply, diff, wait, verify)"]

    # 2. check mode with diff, after someone changed a Secret and the Deployment (so there is a diff to show)
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    core.patch_namespaced_secret("s3srv-ovms-aws-secret", namespace,
                                 {"data": {"secret_access_key": base64.b64encode(b"changed-by-hand").decode()}},
                                 field_manager="someone")
    apps.patch_namespaced_deployment_scale("azsrv-ovms", namespace, {"spec": {"replicas": 2}}, field_manager="someone")
    proc = run("check", ROOT / "playbooks" / "deploy.yml", {"ovms_modelservers": [a, b]}, "--check", "--diff")
    assert proc.returncode == 0, run.outputs["check"][-4000:]
    assert "s3srv-ovms-aws-secret" in run.outputs["check"] and "azsrv-ovms" in run.outputs["check"]
    paths += ["deploy.yml --check --diff (a drifted Secret and Deployment)"]

    # 3. drift.yml: reports a drifted Secret (masked) and Deployment, writes drift.json and drift.md
    report_dir = tmp_path / "report"
    proc = run("drift", ROOT / "playbooks" / "drift.yml",
               {"ovms_modelservers": [a, b], "drift_report_path": str(report_dir), "ovms_namespaces": [namespace]})
    assert proc.returncode == 0, run.outputs["drift"][-4000:]
    report = json.loads((report_dir / "drift.json").read_text())
    assert report["drifted_servers"] == 2, report["summary"]
    paths += ["drift.yml (drifted Secret and Deployment, reports)"]

    # 3b. render.yml (no cluster) with --diff: the file it writes holds the Secrets, what it prints must not
    rendered = tmp_path / "rendered.yaml"
    proc = run("render", ROOT / "playbooks" / "render.yml", {"ovms_modelservers": [a, b], "render_path": str(rendered)},
               "--diff")
    assert proc.returncode == 0, run.outputs["render"][-4000:]
    assert needle_map["aws_secret_access_key (base64)"] in rendered.read_text()  # written, as documented
    paths += ["render.yml --diff"]

    # 4. module paths: modelserver_info, refusals of every shape, the role's failing rollout and its rollback
    src = tmp_path / "typo.yml"
    src.write_text(json.dumps(dict(a, kind="ModelSever")))
    bad_shape = manifest("junk", namespace, "junk", [s3(mark), "junk"])
    refusals = [
        ("kind typo in definition", {"definition": dict(a, kind="ModelSever")}, "expected ModelServer"),
        ("missing namespace", {"definition": dict(b, metadata={"name": "azsrv"})}, "metadata.namespace"),
        ("misspelled credential key", {"definition": manifest("typo", namespace, "mka", dict(
            s3(mark), aws_secret_acess_key=mark["misspelled"]))}, "aws_secret_acess_key"),
        ("definition and name together", {"definition": a, "name": "s3srv"}, "mutually exclusive"),
        ("misspelled credential option", {"name": "opt", "namespace": namespace, "models_repository": dict(
            azure(mark), azure_storage_conection_string=mark["misspelled"])}, "azure_storage_conection_string"),
        ("kind typo in a src file", {"src": str(src)}, "expected exactly one ModelServer"),
        ("a fleet with a bad server", {"servers": [a, dict(b, kind="ModelSever")]}, "servers[1]"),
        ("models_repository of a wrong shape", {"definition": bad_shape}, "models_repository"),
        ("a credential of a wrong type", {"definition": manifest("wrongtype", namespace, "mka", dict(
            s3(mark), aws_secret_access_key={"value": mark["junk"]}))}, "aws_secret_access_key"),
    ]
    tasks = [{"name": "modelserver_info", "openvino.ovms.modelserver_info": {"namespace": namespace, "models": True},
              "register": "info"},
             {"name": "info found both", "ansible.builtin.assert": {"that": [
                 "info.modelservers | map(attribute='name') | sort == ['azsrv', 's3srv']"]}}]
    for i, (what, args, expected) in enumerate(refusals):
        tasks.append({"name": "refusal: " + what, "openvino.ovms.modelserver": args, "register": "refused%d" % i,
                      "ignore_errors": True})
        tasks.append({"name": "refused: " + what, "ignore_errors": True, "ansible.builtin.assert": {
            "that": ["refused%d is failed" % i, "%r in refused%d.msg" % (expected, i)],
            "success_msg": "REFUSAL CONFIRMED: %s" % what, "fail_msg": "refusal missing"}})
    tasks.append({"name": "failing rollout, rolled back", "ansible.builtin.include_role": {
        "name": "openvino.ovms.modelserver"}, "vars": {
        "modelserver_definition": manifest("s3srv", namespace, "mka", s3(mark), deployment_parameters={
            "replicas": 1, "pod_labels": {FAIL_LABEL: "crash"}}),
        "modelserver_wait_timeout": 8, "modelserver_progress_interval": 2, "modelserver_rollback_on_failure": True}})
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]
    (tmp_path / "paths.yml").write_text(json.dumps(play))
    proc = run("paths", tmp_path / "paths.yml")
    out = run.outputs["paths"]
    problems = ["not refused as expected: %s" % r[0] for r in refusals if "REFUSAL CONFIRMED: %s" % r[0] not in out]
    if recap(out)["failed"] != 1 or "CrashLoopBackOff" not in out or \
            "rolled back: Deployment %s/s3srv-ovms" % namespace not in out:
        problems.append("the failing rollout did not fail and roll back as expected: " + out[-3000:])
    paths += ["modelserver_info"] + ["refusal: " + r[0] for r in refusals] + [
        "role: failing rollout (CrashLoopBackOff) and rollback"]

    # the cluster, before undeploy removes the servers (events stay)
    objects_before = namespace_objects(api_client, namespace)
    assert any(k.endswith("/Deployment") and v for k, v in objects_before.items())
    # the search is not blind: the markers are in the cluster, in the Secrets (which are not searched)
    secrets = json.dumps([s.to_dict() for s in core.list_namespaced_secret(namespace).items], default=str)
    assert {"aws_secret_access_key (base64)", "aws_access_key_id (base64)", "aws_session_token (base64)",
            "azure_storage_connection_string (base64)"} <= set(hits(secrets, needle_map))

    # 5. undeploy.yml
    proc = run("undeploy", ROOT / "playbooks" / "undeploy.yml", {"ovms_modelservers": [a, b]})
    assert proc.returncode == 0, run.outputs["undeploy"][-4000:]
    paths += ["undeploy.yml"]
    objects_after = namespace_objects(api_client, namespace)

    searched = dict(("output of %s" % k, v) for k, v in run.outputs.items())
    searched["drift.json"] = (report_dir / "drift.json").read_text()
    searched["drift.md"] = (report_dir / "drift.md").read_text()
    for when, objects in (("before undeploy", objects_before), ("after undeploy", objects_after)):
        for kind, items in objects.items():
            searched["%s %s" % (kind, when)] = json.dumps(items, default=str)
    found = dict((where, hits(text, needle_map)) for where, text in searched.items())
    found = dict((k, v) for k, v in found.items() if v)
    total = sum(n for v in found.values() for n in v.values())
    summary = ("secrets grep: %d paths, %d places searched (%d ansible-playbook runs at -vvv, drift.json, drift.md, "
               "%d kinds of objects before and after undeploy), %d needles, %d hits"
               % (len(paths), len(searched), len(run.outputs), len(objects_before), len(needle_map), total))
    print(summary)
    print(json.dumps(found, indent=1))
    assert not problems, problems
    assert total == 0, "%s: %s" % (summary, json.dumps(found, indent=1))
