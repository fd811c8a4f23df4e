"""The collection as users get it: built into a tarball, installed with ansible-galaxy, its playbooks run by their
installed names (ansible-playbook openvino.ovms.drift) from a working directory of their own, against the real API
server. Also: the modules' User-Agent carries galaxy.yml's version (seen in the API server's audit log), and the
GitOps render is a file the real kubectl applies and kustomize reads."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ansible_runner import run_task
from localcluster import build

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# A version no file of the checkout holds: the installed collection's modules can only know it from the
# tarball's MANIFEST.json.
TEST_VERSION = "99.1.0"


def galaxy_version():
    return str(yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"])


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The checkout built at version TEST_VERSION and installed with ansible-galaxy: the collections directory."""
    top = tmp_path_factory.mktemp("installed")
    src = top / "src"
    shutil.copytree(ROOT, src, symlinks=True, ignore=shutil.ignore_patterns(".git", "dist", "__pycache__",
                                                                            ".pytest_cache"))
    galaxy = src / "galaxy.yml"
    text = galaxy.read_text()
    assert "\nversion: %s\n" % galaxy_version() in text
    galaxy.write_text(text.replace("\nversion: %s\n" % galaxy_version(), "\nversion: %s\n" % TEST_VERSION))
    env = dict(os.environ, ANSIBLE_NOCOLOR="1")
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(top), str(src)],
                   check=True, env=env, capture_output=True, text=True, timeout=300)
    tarball = top / ("openvino-ovms-%s.tar.gz" % TEST_VERSION)
    collections = top / "collections"
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", "--offline", "--no-deps", "--force", "-p",
                    str(collections), str(tarball)], check=True, env=env, capture_output=True, text=True, timeout=300)
    root = collections / "ansible_collections" / "openvino" / "ovms"
    assert json.loads((root / "MANIFEST.json").read_text())["collection_info"]["version"] == TEST_VERSION
    assert not (root / "galaxy.yml").exists()
    return collections


def playbook(name, collections, kubeconfig, cwd, extra_vars):
    """ansible-playbook openvino.ovms.<name>, run from cwd with only the installed collection (and kubernetes.core
    from the `ansible` package) available."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collections), K8S_AUTH_KUBECONFIG=str(kubeconfig),
               ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
    env.pop("PYTHONPATH", None)  # nothing of the checkout
    cmd = [str(BIN / "ansible-playbook"), "openvino.ovms.%s" % name, "-e", json.dumps(extra_vars),
           "-e", "ansible_python_interpreter=%s" % sys.executable]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def ms(name, namespace):
    return {"apiVersion": "intel.com/v1alpha1", "kind": "ModelServer", "metadata": {"name": name, "namespace": namespace},
            "spec": {"models_settings": {"model_name": name, "model_path": "gs://b/%s" % name}}}


def files_under(path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())


def audit_user_agents(cluster, since, namespace):
    with open(cluster.run_dir / "logs" / "audit.log", "rb") as handle:
        handle.seek(since)
        events = [json.loads(line) for line in handle.read().decode().splitlines() if line.strip()]
    return {e.get("userAgent") for e in events
            if e.get("stage") == "ResponseComplete" and "/namespaces/%s/" % namespace in e["requestURI"]}


def test_user_agent_carries_the_version_of_the_installed_collection_and_of_the_checkout(
        installed, namespace, kubeconfig, tmp_path, kwok_cluster):
    log = kwok_cluster.run_dir / "logs" / "audit.log"
    offset = log.stat().st_size
    work = tmp_path / "work"
    work.mkdir()
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(installed), K8S_AUTH_KUBECONFIG=str(kubeconfig),
               ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="false")
    env.pop("PYTHONPATH", None)
    run = subprocess.run([str(BIN / "ansible"), "localhost", "-c", "local", "-m", "openvino.ovms.modelserver_info",
                          "-a", json.dumps({"namespace": namespace}),
                          "-e", "ansible_python_interpreter=%s" % sys.executable],
                         cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert audit_user_agents(kwok_cluster, offset, namespace) == {"openvino.ovms/%s" % TEST_VERSION}

    # from the checkout (galaxy.yml), through ansible-playbook and the other module
    offset = log.stat().st_size
    result = run_task("openvino.ovms.modelserver", {"name": "ua", "namespace": namespace, "models_settings": {
        "model_name": "ua", "model_path": "gs://b/ua"}}, kubeconfig, tmp_path, check=True)
    assert not result.get("failed"), result.get("msg")
    assert audit_user_agents(kwok_cluster, offset, namespace) == {"openvino.ovms/%s" % galaxy_version()}


def test_installed_drift_playbook_writes_to_the_current_directory(installed, namespace, kubeconfig, tmp_path):
    before = files_under(installed)
    work = tmp_path / "work"
    work.mkdir()
    # "stray" is deployed but declared nowhere
    stray = run_task("openvino.ovms.modelserver", {"definition": ms("stray", namespace)}, kubeconfig, tmp_path)
    assert not stray.get("failed"), stray.get("msg")

    # the AWX survey's empty answer: no namespace searched, only the declared server checked (as the survey says)
    run = playbook("drift", installed, kubeconfig, work, {"ovms_modelservers": [ms("ghost", namespace)],
                                                          "ovms_namespaces": ""})
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads((work / "drift.json").read_text())
    assert [s["server"] for s in report["servers"]] == ["%s/ghost" % namespace]
    assert (work / "drift.md").is_file()
    assert "(report: %s/drift.md)" % work.resolve() in run.stdout

    # a relative report path, from the current directory; the namespace given as the survey's textarea gives it
    run = playbook("drift", installed, kubeconfig, work, {"ovms_modelservers": [ms("ghost", namespace)],
                                                          "ovms_namespaces": "%s\n" % namespace,
                                                          "drift_report_path": "reports/today"})
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads((work / "reports" / "today" / "drift.json").read_text())
    assert sorted(s["server"] for s in report["servers"]) == ["%s/ghost" % namespace, "%s/stray" % namespace]

    assert files_under(installed) == before, "a playbook wrote into the installed collection"


def test_render_writes_a_file_kubectl_applies_and_kustomize_reads(installed, api_client, namespace, kubeconfig,
                                                                   tmp_path):
    from kubernetes import client

    kubectl = str(build.ensure_binaries()["kubectl"])
    work = tmp_path / "work"
    (work / "gitops").mkdir(parents=True)
    servers = [ms("alpha", namespace), ms("beta", namespace)]
    run = playbook("render", installed, kubeconfig, work, {"ovms_modelservers": servers,
                                                           "render_path": "gitops/ovms.yaml"})
    assert run.returncode == 0, run.stdout + run.stderr
    rendered = work / "gitops" / "ovms.yaml"
    docs = list(yaml.safe_load_all(rendered.read_text()))
    assert [(d["kind"], d["metadata"]["name"]) for d in docs] == [
        ("Deployment", "alpha-ovms"), ("Service", "alpha-ovms"), ("Deployment", "beta-ovms"), ("Service", "beta-ovms")]

    # kustomize (kubectl's built-in) reads it as a resource
    (work / "gitops" / "kustomization.yaml").write_text("resources:\n  - ovms.yaml\n")
    kustomized = subprocess.run([kubectl, "kustomize", str(work / "gitops")], capture_output=True, text=True,
                                timeout=120)
    assert kustomized.returncode == 0, kustomized.stderr
    assert sorted((d["kind"], d["metadata"]["name"]) for d in yaml.safe_load_all(kustomized.stdout)) == sorted(
        (d["kind"], d["metadata"]["name"]) for d in docs)

    # kubectl apply -f creates every object
    applied = subprocess.run([kubectl, "--kubeconfig", str(kubeconfig), "apply", "-f", str(rendered)],
                             capture_output=True, text=True, timeout=120)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    assert sorted(d.metadata.name for d in apps.list_namespaced_deployment(namespace).items) == ["alpha-ovms",
                                                                                                 "beta-ovms"]
    assert sorted(s.metadata.name for s in core.list_namespaced_service(namespace).items) == ["alpha-ovms",
                                                                                              "beta-ovms"]

    # what the README used to show, a YAML list of manifests, is what kubectl cannot read
    as_list = work / "list.yaml"
    as_list.write_text(yaml.safe_dump(docs))
    refused = subprocess.run([kubectl, "--kubeconfig", str(kubeconfig), "apply", "--dry-run=server", "-f",
                              str(as_list)], capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0, refused.stdout
