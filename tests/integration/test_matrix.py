"""The compatibility matrix (tools/matrix.py): each ansible-core that runs on this Python x the oldest supported,
a middle and the newest kubernetes library runs tests/matrix/lifecycle.yml against the local control plane:
apply, no-op, check mode with a diff, the role with verification through the OVMS stand-in, drift.yml, absent.
The venvs are built by `make matrix-venvs` (part of `make test`); a missing one fails here rather than skipping,
so that a green run always means the whole matrix ran. OVMS_MATRIX=off skips it (for quick local runs)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest_paths import COLLECTIONS_DIR

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import matrix  # noqa: E402

pytestmark = pytest.mark.skipif(os.environ.get("OVMS_MATRIX") == "off", reason="OVMS_MATRIX=off")


@pytest.mark.parametrize("ansible_core,k8s", matrix.COMBOS, ids=["core%s-k8s%s" % c for c in matrix.COMBOS])
def test_lifecycle(ansible_core, k8s, namespace, kubeconfig, tmp_path, standin):
    venv = matrix.venv_dir(ansible_core, k8s)
    assert matrix.installed(ansible_core, k8s), "%s is missing: run `make matrix-venvs`" % venv
    model = "m" + re.sub(r"\W", "", ansible_core + k8s)
    standin({model: {"mode": "available"}})
    server = {"apiVersion": "intel.com/v1alpha1", "kind": "ModelServer",
              "metadata": {"name": "mx", "namespace": namespace},
              "spec": {"image_name": "openvino/model_server:2026.3",
                       "models_settings": {"model_name": model, "model_path": "gs://bucket/%s" % model}}}
    extra = {"ovms_modelservers": [server], "drift_report_path": str(tmp_path / "drift"), "fail_on_drift": True,
             "ansible_python_interpreter": str(venv / "bin" / "python")}
    env = matrix.environment(ansible_core, k8s, COLLECTIONS_DIR)
    env.update(K8S_AUTH_KUBECONFIG=str(kubeconfig), ANSIBLE_LOCALHOST_WARNING="false",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="false", ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([str(venv / "bin" / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           str(ROOT / "tests" / "matrix" / "lifecycle.yml"), "-e", json.dumps(extra)],
                          env=env, capture_output=True, text=True, timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    # it really ran on this combination's ansible-core and kubernetes library
    version = subprocess.run([str(venv / "bin" / "python"), "-c",
                              "import ansible.release, kubernetes; print(ansible.release.__version__, "
                              "kubernetes.__version__)"], capture_output=True, text=True, check=True).stdout.split()
    assert version == [ansible_core, k8s]
    assert re.search(r"ok=\d+\s+changed=\d+\s+unreachable=0\s+failed=0", output), output[-3000:]
    report = json.loads((tmp_path / "drift" / "drift.json").read_text())
    assert report["drifted_servers"] == 0 and len(report["servers"]) == 1 and not report["errors"], report
