"""Booleans and numbers given as strings, the way `-e name=value` and AWX surveys give them, to the role and to the
playbooks: converted before use (the same on every ansible-core), and anything else refused naming the variable.

The tests here need no cluster: they stop before the first Kubernetes request (a refusal) or run only the role's
tasks/inputs.yml (the conversion). The cluster-backed runs with string inputs are in test_role.py."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from ansible_runner import awx_extra_vars, run_playbook, task_results

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = ROOT / "playbooks"

# What Ansible's boolean() accepts, as a user or AWX may spell it (strings), and as YAML/JSON give it.
TRUE_SPELLINGS = ["true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "1", "y", "Y", "t", "T", True, 1]
FALSE_SPELLINGS = ["false", "False", "FALSE", "no", "No", "off", "OFF", "0", "n", "N", "f", "F", False, 0]
ROLE_BOOLEANS = ["modelserver_force_conflicts", "modelserver_prune", "modelserver_wait", "modelserver_verify",
                 "modelserver_rollback_on_failure", "modelserver_fail_fast",
                 "modelserver_smoke"]  # smoke: also "auto" (the default)
ROLE_NUMBERS = ["modelserver_wait_timeout", "modelserver_progress_interval"]


def unused_kubeconfig(tmp_path):
    return tmp_path / "no-kubeconfig"  # nothing here may reach a cluster


def messages(out):
    """Every failure message of the run, with those of a loop's items."""
    found = []
    for play in out["plays"]:
        for task in play["tasks"]:
            result = task["hosts"].get("localhost", {})
            for r in [result] + result.get("results", []):
                if r.get("failed"):
                    found.append(r.get("msg", ""))
    return found


def kubernetes_requests(out):
    """Names of the tasks that ran a module of this collection or kubernetes.core (that would reach a cluster)."""
    return [t["task"]["name"] for play in out["plays"] for t in play["tasks"]
            if t["task"]["name"].startswith(("Apply", "Create the namespaces", "Delete", "Check every declared"))
            and not t["hosts"]["localhost"].get("skipped")]


def test_role_converts_every_spelling_of_booleans_and_numbers(tmp_path):
    """tasks/inputs.yml turns each spelling into a real boolean or integer (on 2.16 the string "false" is truthy,
    on 2.19 a string in a condition is an error; the `bool` filter reads y/t/n/f differently across versions)."""
    cases = [(s, True) for s in TRUE_SPELLINGS] + [(s, False) for s in FALSE_SPELLINGS]
    tasks = []
    for i, (spelling, _) in enumerate(cases):
        given = {name: spelling for name in ROLE_BOOLEANS}
        given.update(modelserver_wait_timeout=["600", 600, "0"][i % 3], modelserver_progress_interval=["7", 7][i % 2],
                     modelserver_parallel=["4", 4][i % 2])
        tasks += [{"name": "convert %d" % i, "ansible.builtin.include_role": {
                       "name": "openvino.ovms.modelserver", "tasks_from": "inputs"}, "vars": given},
                  {"name": "converted %d" % i, "ansible.builtin.debug": {
                      "msg": "{{ __modelserver_inputs | dict2items | map(attribute='value') | map('type_debug') "
                             "| zip(__modelserver_inputs | dict2items) }}"}}]
    out, _ = run_playbook([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}],
                          unused_kubeconfig(tmp_path), tmp_path)
    assert messages(out) == []
    for i, (spelling, expected) in enumerate(cases):
        converted = dict((item["key"], (item["value"], python_type))
                         for python_type, item in task_results(out, "converted %d" % i)[0]["msg"])
        want = dict((name[len("modelserver_"):], (expected, "bool")) for name in ROLE_BOOLEANS)
        want.update(wait_timeout=([600, 600, 0][i % 3], "int"), progress_interval=(7, "int"), parallel=(4, "int"))
        assert converted == want, spelling


def test_role_refuses_what_is_not_a_boolean_or_a_number_naming_each_variable(tmp_path):
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [{
        "name": "role under test", "ansible.builtin.include_role": {"name": "openvino.ovms.modelserver"},
        "vars": {"modelserver_name": "x", "modelserver_namespace": "y"}}]}]
    out, _ = run_playbook(play, unused_kubeconfig(tmp_path), tmp_path, extra_args=[
        "-e", "modelserver_verify=maybe", "-e", "modelserver_rollback_on_failure=Perhaps",
        "-e", "modelserver_wait=", "-e", "modelserver_wait_timeout=soon"])
    text = "\n".join(messages(out))
    for name in ["modelserver_verify", "modelserver_rollback_on_failure", "modelserver_wait",
                 "modelserver_wait_timeout"]:
        assert "argument '%s'" % name in text, (name, text)
    assert kubernetes_requests(out) == []


@pytest.mark.parametrize("name,value,expected", [
    # 2.16's argument specs refuse "600.0", 2.19's take it (then tasks/inputs.yml refuses it): refused on both
    ("modelserver_wait_timeout", "600.0", "modelserver_wait_timeout"),
    ("modelserver_wait_timeout", "-5", "modelserver_wait_timeout must be a whole number of at least 0"),
    ("modelserver_progress_interval", "0", "modelserver_progress_interval must be a whole number of at least 1"),
])
def test_role_refuses_numbers_that_are_not_whole_or_too_small(tmp_path, name, value, expected):
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [{
        "name": "role under test", "ansible.builtin.include_role": {"name": "openvino.ovms.modelserver"},
        "vars": {"modelserver_name": "x", "modelserver_namespace": "y"}}]}]
    out, _ = run_playbook(play, unused_kubeconfig(tmp_path), tmp_path, extra_args=["-e", "%s=%s" % (name, value)])
    text = "\n".join(messages(out))
    assert expected in text, text
    assert kubernetes_requests(out) == []


@pytest.mark.parametrize("playbook,args,named", [
    ("deploy.yml", ["-e", "ovms_name=x", "-e", "ovms_replicas=two", "-e", "ovms_create_namespaces=maybe"],
     ["argument 'ovms_replicas'", "argument 'ovms_create_namespaces'"]),
    ("undeploy.yml", ["-e", "ovms_name=x", "-e", "ovms_replicas=1.5"], ["argument 'ovms_replicas'"]),
    ("drift.yml", ["-e", "ovms_name=x", "-e", "fail_on_drift=sometimes"], ["argument 'fail_on_drift'"]),
    ("deploy.yml", ["-e", "ovms_name=x", "-e", "ovms_replicas=2.0"], ["ovms_replicas"]),  # refused on 2.16 and 2.19
])
def test_playbooks_refuse_what_is_not_a_boolean_or_a_number_naming_it(tmp_path, playbook, args, named):
    out, _ = run_playbook(None, unused_kubeconfig(tmp_path), tmp_path, path=PLAYBOOKS / playbook,
                          extra_args=args + ["-e", "drift_report_path=%s" % tmp_path])
    text = "\n".join(messages(out))
    for name in named:
        assert name in text, (name, text)
    assert kubernetes_requests(out) == []


def test_awx_survey_answers_that_are_not_booleans_are_refused(tmp_path):
    """A survey edited by hand in AWX (a choice that is not a boolean) fails before anything is deployed."""
    args = awx_extra_vars(tmp_path, "survey_deploy.json", ovms_name="x", ovms_model_path="gs://b/m",
                          modelserver_rollback_on_failure="sometimes")
    out, _ = run_playbook(None, unused_kubeconfig(tmp_path), tmp_path, path=PLAYBOOKS / "deploy.yml",
                          extra_args=args + ["-e", "ovms_create_namespaces=no"])
    text = "\n".join(messages(out))
    assert "argument 'modelserver_rollback_on_failure'" in text and "'sometimes'" in text, text
    assert kubernetes_requests(out) == []
