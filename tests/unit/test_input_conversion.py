"""Every boolean and number the role and the playbooks read, and every AWX survey answer, is checked and converted
before use: static checks over the YAML (the runs themselves are in tests/integration/test_typed_inputs.py)."""
import json
import re
import sys
from pathlib import Path

import pytest
import yaml
from ansible.module_utils.parsing.convert_bool import BOOLEANS

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "modelserver"
PLAYBOOKS = ["deploy.yml", "undeploy.yml", "drift.yml", "render.yml"]


def load(path):
    return yaml.safe_load(path.read_text())


def role_options():
    return load(ROLE / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]


def typed_role_options():
    return dict((name, o["type"]) for name, o in role_options().items() if o["type"] in ("bool", "int"))


def playbook_inputs():
    return load(ROOT / "playbooks" / "vars" / "servers.yml")["ovms_playbook_inputs"]


def inputs_tasks():
    return dict((t["name"], t) for t in load(ROLE / "tasks" / "inputs.yml"))


def test_every_boolean_and_number_of_the_role_is_converted_once():
    converted = inputs_tasks()["Convert the booleans and numbers"]["ansible.builtin.set_fact"]["__modelserver_inputs"]
    for name, kind in typed_role_options().items():
        key = name[len("modelserver_"):]
        expected = ("'%s': %s is truthy(convert_bool=True)" if kind == "bool" else "'%s': %s | int") % (key, name)
        assert expected in converted, name


def test_the_tasks_read_only_the_converted_copies():
    """A raw option in a condition is a string from -e or AWX: true on ansible-core 2.16 for "false", an error on
    2.19. Outside inputs.yml only __modelserver_inputs.<option> may be read."""
    raw = re.compile(r"(?<![\w.])(%s)\b" % "|".join(typed_role_options()))
    for path in sorted((ROLE / "tasks").glob("*.yml")):
        if path.name == "inputs.yml":
            continue
        code = "\n".join(line.split("#", 1)[0] for line in path.read_text().splitlines())  # comments may name them
        assert raw.findall(code) == [], path.name


def test_the_role_defaults_have_the_documented_types():
    defaults = load(ROLE / "defaults" / "main.yml")
    for name, kind in typed_role_options().items():
        assert type(defaults[name]).__name__ == kind, name
        assert role_options()[name]["default"] == defaults[name], name


def test_the_whole_number_minimums_are_the_documented_ones():
    sys.path.insert(0, str(ROOT / "tools"))
    import gen_docs

    loop = inputs_tasks()["Check that the numbers are whole numbers"]["loop"]
    minimums = dict(re.findall(r"'(\w+)': (\d+)", loop))
    assert dict((k, int(v)) for k, v in minimums.items()) == dict(
        (name, gen_docs.ROLE_INT_MIN.get(name, 0)) for name, kind in typed_role_options().items() if kind == "int")


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_each_playbook_checks_its_inputs_first(playbook):
    tasks = load(ROOT / "playbooks" / playbook)[0]["tasks"]
    assert tasks[0]["ansible.builtin.validate_argument_spec"] == {"argument_spec": "{{ ovms_playbook_inputs }}"}
    assert "ovms_replicas | string is match('^[0-9]+$')" in tasks[1]["ansible.builtin.assert"]["that"]


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_the_playbooks_read_booleans_only_converted(playbook):
    text = "\n".join(line for line in (ROOT / "playbooks" / playbook).read_text().splitlines()
                     if not line.lstrip().startswith(("#", "- name:")))  # comments and task names may name them
    for name, spec in playbook_inputs().items():
        if spec["type"] != "bool":
            continue
        uses = [m.group(0) for m in re.finditer(r"\b%s\b[^\n]*" % name, text)
                if not m.group(0).startswith("%s:" % name)]  # the play's default
        # read converted, with the documented default when a cluster's inventory does not set it (no play variable)
        converted = ("%s is truthy(convert_bool=True)" % name,
                     "%s | default(%s) is truthy(convert_bool=True)" % (name, str(spec["default"]).lower()))
        assert all(u.startswith(converted) for u in uses), uses


@pytest.mark.parametrize("survey,playbook_runs_role", [("survey_deploy.json", True), ("survey_drift.json", False)])
def test_every_survey_answer_is_checked_with_the_type_awx_sends(survey, playbook_runs_role):
    """AWX sends integer answers as numbers and text, textarea and multiplechoice answers as strings: each
    question's variable must be checked (by the role's argument specs or the playbooks' ovms_playbook_inputs) as
    what it means, and a boolean question's choices must be booleans that Ansible's boolean() reads."""
    checked = dict((name, o["type"]) for name, o in playbook_inputs().items())
    if playbook_runs_role:
        checked.update((name, o["type"]) for name, o in role_options().items())
    for q in json.loads((ROOT / "awx" / survey).read_text())["spec"]:
        name = q["variable"]
        if q["type"] == "integer":
            assert checked.get(name) == "int", name
        elif q["type"] == "multiplechoice" and checked.get(name) == "bool":
            assert all(c.lower() in BOOLEANS for c in q["choices"]) and q["default"].lower() in BOOLEANS, name
        else:
            assert q["type"] in ("text", "textarea", "multiplechoice", "password"), (name, q["type"])
            assert checked.get(name) in (None, "str", "path", "raw"), (name, checked.get(name))
