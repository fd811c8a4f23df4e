"""drift.yml never reports a false clean: a check that failed (here, one refused spec among good ones, which fails
the fleet check as a whole before any request) makes the play fail and the report say what was not checked, even
without fail_on_drift."""
from __future__ import annotations

import json
from pathlib import Path

from ansible_runner import run_playbook
from test_role import failure_message

ROOT = Path(__file__).resolve().parents[2]


def test_a_failed_check_is_never_a_clean_report(namespace, kubeconfig, tmp_path):
    good = {"apiVersion": "intel.com/v1alpha1", "kind": "ModelServer", "metadata": {"name": "good", "namespace": namespace},
            "spec": {"models_settings": {"model_name": "good", "model_path": "gs://b/good"}}}
    bad = {"apiVersion": "intel.com/v1alpha1", "kind": "ModelServer", "metadata": {"name": "bad", "namespace": namespace},
           "spec": {"models_settings": {"model_name": "bad", "model_path": "gs://b/bad"},
                    "service_parameters": {"grpc_port": 70000}}}
    report_dir = tmp_path / "report"
    out, _ = run_playbook(None, kubeconfig, tmp_path, path=ROOT / "playbooks" / "drift.yml",
                          extra_vars={"ovms_modelservers": [good, bad], "drift_report_path": str(report_dir)})
    msg = failure_message(out)
    assert msg and msg.startswith("drift: 0 model servers, 0 drifted, 1 NOT CHECKED (errors: the report is incomplete)")
    assert msg.endswith("; not checked: every declared server")
    report = json.loads((report_dir / "drift.json").read_text())
    assert report["errors"] and report["errors"][0]["server"] == "every declared server"
    assert "grpc_port" in report["errors"][0]["error"]
    assert "not checked" in (report_dir / "drift.md").read_text()
