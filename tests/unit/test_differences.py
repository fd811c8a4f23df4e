"""The deliberate differences from the operator are listed in one table (_chart.DIFFERENCES); the README's section
and the module's notes (as ansible-doc shows them) must say exactly what the table says."""
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import yaml

from ansible_collections.openvino.ovms.plugins.module_utils import _chart
from ansible_collections.openvino.ovms.plugins.modules import modelserver

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "Deliberate difference from the operator - "


def readme_rows():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Deliberate differences from the operator", 1)[1].split("\n## ", 1)[0]
    table = section.split("<!-- BEGIN GENERATED DIFFERENCES", 1)[1].split("<!-- END GENERATED DIFFERENCES -->")[0]
    rows = [line for line in table.splitlines() if line.startswith("| ")][1:]  # without the header
    return [tuple(cell.strip().replace("\\|", "|").replace("&lt;", "<") for cell in re.split(r"(?<!\\)\|", row)[1:-1]) for row in rows]


def expected_notes():
    return ["%s%s. %s Why - %s" % (PREFIX, name, what, why) for name, what, why in _chart.DIFFERENCES]


def test_the_table_names_each_difference_once_with_a_reason():
    names = [d[0] for d in _chart.DIFFERENCES]
    assert len(names) == len(set(names)) >= 10
    assert all(what and why for _, what, why in _chart.DIFFERENCES)


def test_readme_lists_exactly_the_table():
    assert readme_rows() == [tuple(d) for d in _chart.DIFFERENCES]


def test_module_documentation_lists_exactly_the_table():
    notes = yaml.safe_load(modelserver.DOCUMENTATION)["notes"]
    assert [n for n in notes if n.startswith(PREFIX)] == expected_notes()


def test_ansible_doc_shows_exactly_the_table():
    exe = shutil.which("ansible-doc")
    assert exe, "ansible-doc is not on PATH (run the tests through make)"
    proc = subprocess.run([exe, "-j", "openvino.ovms.modelserver"], capture_output=True, text=True,
                          env=dict(os.environ, ANSIBLE_NOCOLOR="1"), check=True)
    notes = json.loads(proc.stdout)["openvino.ovms.modelserver"]["doc"]["notes"]
    assert [n for n in notes if n.startswith(PREFIX)] == expected_notes()
