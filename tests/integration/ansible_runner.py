"""Run a task of this collection through ansible-playbook (the real thing: argument parsing, no_log, check
and diff modes) and return its result as JSON."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest_paths import COLLECTIONS_DIR

ROOT = Path(__file__).resolve().parents[2]


class TaskResult(dict):
    """The task's result, plus the raw JSON text of everything ansible printed (for leak checks)."""
    raw: str = ""


def run_task(module: str, args: dict, kubeconfig: Path, tmp_path: Path, check=False, diff=False) -> TaskResult:
    play = [{"hosts": "localhost", "gather_facts": False,
             "vars": {"ansible_python_interpreter": sys.executable},
             "tasks": [{"name": "task under test", module: args, "ignore_errors": True}]}]
    out, raw = run_playbook(play, kubeconfig, tmp_path, check=check, diff=diff)
    result = TaskResult(out["plays"][0]["tasks"][0]["hosts"]["localhost"])
    result.raw = raw
    return result


def run_playbook(play, kubeconfig: Path, tmp_path: Path, check=False, diff=False, extra_vars=None, path=None,
                 extra_args=()):
    """Run a playbook (a list of plays, or the path of a playbook file); return (JSON output, raw output).
    extra_args: more command-line arguments, such as ["-e", "name=value"] (a string, as a user types it)."""
    cmd, env = playbook_command(play, kubeconfig, tmp_path, check, diff, extra_vars, path, extra_args)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    try:
        out = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError("ansible-playbook printed no JSON (exit %d):\n%s\n%s" % (proc.returncode, proc.stdout,
                                                                                       proc.stderr))
    return out, proc.stdout + proc.stderr


def playbook_command(play, kubeconfig: Path, tmp_path: Path, check=False, diff=False, extra_vars=None, path=None,
                     extra_args=()):
    """(command, environment) of an ansible-playbook run as run_playbook makes it (for a run the test controls)."""
    playbook = path or tmp_path / "play.yml"
    if path is None:
        playbook.write_text(json.dumps(play))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS_DIR), ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
               K8S_AUTH_KUBECONFIG=str(kubeconfig), ANSIBLE_LOCALHOST_WARNING="false",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="false", ANSIBLE_NOCOLOR="1")
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook),
           "-e", "ansible_python_interpreter=%s" % sys.executable]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    cmd += list(extra_args)
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    return cmd, env


def task_results(out, name_part):
    """Every result (per host) of the tasks whose name contains name_part, in order."""
    found = []
    for play in out["plays"]:
        for task in play["tasks"]:
            if name_part in task["task"]["name"]:
                found.append(task["hosts"]["localhost"])
    return found


def awx_extra_vars(tmp_path, survey, omit_empty=False, **answers):
    """["-e", "@file"] for an extra-vars file as AWX writes a survey's answers (awx/<survey>): each question's
    variable, typed as AWX sends it (integer and float questions as numbers; text, textarea and multiplechoice
    answers as strings); answers not given are the question's default. An empty answer to an optional question
    is sent as "" (omit_empty: left out, as newer AWX releases do)."""
    questions = json.loads((ROOT / "awx" / survey).read_text())["spec"]
    values = {}
    for q in questions:
        value = answers.pop(q["variable"], q["default"])
        if value == "" and not q["required"] and omit_empty:
            continue
        values[q["variable"]] = {"integer": int, "float": float}.get(q["type"], str)(value)
    assert not answers, "not questions of %s: %s" % (survey, sorted(answers))
    path = tmp_path / ("%s.extravars.json" % survey)
    path.write_text(json.dumps(values))
    return ["-e", "@%s" % path]
