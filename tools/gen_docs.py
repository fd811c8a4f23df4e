"""Write the copies derived from plugins/module_utils/_spec.FIELDS (the module's option docs, the role's argument
specs) and from _chart.DIFFERENCES (the module's notes and the README's "Deliberate differences from the operator").

    python tools/gen_docs.py          rewrite the generated sections
    python tools/gen_docs.py --check  exit 1 when a generated section is out of date
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BEGIN = "# BEGIN GENERATED SPEC OPTIONS"
END = "# END GENERATED SPEC OPTIONS"


def _spec():
    sys.path.insert(0, str(ROOT / "tools"))
    import collection_path

    collection_path.ensure()
    from ansible_collections.openvino.ovms.plugins.module_utils import _spec as spec
    return spec


def _chart():
    _spec()
    from ansible_collections.openvino.ovms.plugins.module_utils import _chart as chart
    return chart


DIFF_BEGIN = "# BEGIN GENERATED DIFFERENCES"
DIFF_END = "# END GENERATED DIFFERENCES"
README_BEGIN = "<!-- BEGIN GENERATED DIFFERENCES"
README_END = "<!-- END GENERATED DIFFERENCES -->"
README = ROOT / "README.md"


def difference_notes() -> list:
    """The module's notes, one per deliberate difference."""
    return ["Deliberate difference from the operator - %s. %s Why - %s" % (name, what, why)
            for name, what, why in _chart().DIFFERENCES]


def differences_block() -> str:
    text = yaml.safe_dump(difference_notes(), sort_keys=False, default_flow_style=False, width=110)
    return "".join("  " + line + "\n" for line in text.splitlines())


def readme_block() -> str:
    lines = ["| Difference | What this collection does | Why |", "|---|---|---|"]
    for name, what, why in _chart().DIFFERENCES:
        lines.append("| %s | %s | %s |" % tuple(x.replace("|", "\\|").replace("<", "&lt;") for x in (name, what, why)))
    return "\n".join(lines) + "\n"


def _between(text: str, begin: str, end: str, block: str) -> str:
    head, rest = text.split(begin, 1)
    begin_line, rest = rest.split("\n", 1)
    _, tail = rest.split(end, 1)
    return head + begin + begin_line + "\n" + block + end + tail


def render_readme(path: Path) -> str:
    return _between(path.read_text(), README_BEGIN, README_END, readme_block())


def option_block() -> str:
    text = yaml.safe_dump(_spec().option_docs(), sort_keys=False, default_flow_style=False, width=110)
    return "".join("  " + line + "\n" for line in text.splitlines())


def render_module(path: Path) -> str:
    text = _between(path.read_text(), BEGIN, END, option_block())
    return _between(text, DIFF_BEGIN, DIFF_END, differences_block())


ROLE_SPECS = ROOT / "roles" / "modelserver" / "meta" / "argument_specs.yml"
ROLE_OPTIONS = {
    "modelserver_state": {"type": "str", "choices": ["present", "absent"], "default": "present",
                          "description": ["V(present) applies, waits and verifies; V(absent) deletes every object "
                                          "the model server owns."]},
    "modelserver_name": {"type": "str", "description": ["Name of the model server (unless in the definition/src)."]},
    "modelserver_namespace": {"type": "str", "description": ["Namespace (unless in the definition/src)."]},
    "modelserver_definition": {"type": "dict", "description": ["A whole ModelServer manifest, as written for the "
                                                                "operator."]},
    "modelserver_src": {"type": "path", "description": ["A YAML file holding one ModelServer manifest."]},
    "modelserver_kubeconfig": {"type": "raw",
                               "description": ["Kubeconfig (a path, or a dict) for every request; otherwise "
                                               "K8S_AUTH_KUBECONFIG, KUBECONFIG or module_defaults for "
                                               "group/openvino.ovms.ovms decide, as for kubernetes.core."]},
    "modelserver_context": {"type": "str", "description": ["Kubeconfig context to use."]},
    "modelserver_force_conflicts": {"type": "bool", "default": False,
                                    "description": ["Take over fields owned by another server-side apply manager."]},
    "modelserver_ignore_differences": {"type": "list", "elements": "dict",
                                       "description": ["Fields other clients may add or change without it being "
                                                       "drift (the module's ignore_differences: kinds, managers, "
                                                       "paths)."]},
    "modelserver_prune": {"type": "bool", "default": True,
                          "description": ["Delete owned objects the spec no longer renders."]},
    "modelserver_wait": {"type": "bool", "default": True,
                         "description": ["Wait for the rollout (and verify the models) after applying."]},
    "modelserver_wait_timeout": {"type": "int", "default": 600,
                                 "description": ["Seconds for the rollout and the models together."]},
    "modelserver_progress_interval": {"type": "int", "default": 10,
                                      "description": ["Seconds between progress lines while waiting."]},
    "modelserver_verify": {"type": "bool", "default": True,
                           "description": ["Check that every expected model has a version AVAILABLE with error_code "
                                           "OK in GET /v1/config and that GET /v2/models/<name>/ready answers 200."]},
    "modelserver_ovms_url": {"type": "str", "default": "",
                             "description": ["Reach OVMS at this base URL (Route, Ingress, NodePort, in-cluster) "
                                             "instead of through the API server's service proxy (which needs RBAC "
                                             "on services/proxy)."]},
    "modelserver_rollback_on_failure": {"type": "bool", "default": False,
                                        "description": ["When the rollout or the verification fails, restore the "
                                                        "previous revision (like helm --atomic), then fail naming the "
                                                        "cause and what was rolled back."]},
    "modelserver_servers": {"type": "list", "elements": "dict",
                            "description": ["The fleet path: a list of whole ModelServer manifests, instead of "
                                            "modelserver_name/definition/src. One apply of every server (the module's "
                                            "O(openvino.ovms.modelserver#module:servers)), then one wait for all of "
                                            "them - one watch on the Deployments per namespace, each server's models "
                                            "verified as soon as its rollout completes - with one progress line per "
                                            "window for the whole fleet (C(37/100 ready, 2 failing: ns/a "
                                            "CrashLoopBackOff, ...)).",
                                            "A server whose pod crash-loops (or cannot pull its image) or whose model "
                                            "fails to load is failed at once, not at the deadline; the others go on. "
                                            "With modelserver_rollback_on_failure each failed server (only those) is "
                                            "rolled back to its previous revision. The role fails at the end, naming "
                                            "every failed server with its cause.",
                                            "Sets C(modelserver_fleet) - per server applied, status (ready / failed / "
                                            "pending), ready, models_available, cause, failure, rolled_back - and a "
                                            "summary line. modelserver_ovms_url does not apply (each server is "
                                            "reached through the API server's service proxy)."]},
    "modelserver_fail_fast": {"type": "bool", "default": False,
                              "description": ["Fleet path: stop waiting as soon as one server failed (the others "
                                              "still pending are reported as not verified), instead of giving every "
                                              "server its chance until the deadline."]},
    "modelserver_parallel": {"type": "int", "default": 8,
                             "description": ["Fleet path: how many servers are applied, and have their models "
                                             "verified, at once."]},
}


# What the role accepts where a string may come instead of a boolean or a number (`-e name=value`, AWX surveys);
# tasks/inputs.yml converts, and refuses the rest naming the variable (as the argument specs do before it).
ROLE_BOOL_NOTE = ("A boolean, or a string as C(-e name=value) and AWX surveys give: C(true)/C(false), C(yes)/C(no), "
                  "C(on)/C(off), C(1)/C(0), C(y)/C(n), C(t)/C(f), in any case. Anything else fails naming the "
                  "variable.")
ROLE_INT_NOTE = "A whole number, or a string of digits (C(-e %s=%d)). Anything else fails naming the variable."
ROLE_INT_MIN = {"modelserver_wait_timeout": 0, "modelserver_progress_interval": 1, "modelserver_parallel": 1}


def _role_options() -> dict:
    options = {}
    for name, option in ROLE_OPTIONS.items():
        option = dict(option, description=list(option["description"]))
        if option["type"] == "bool":
            option["description"].append(ROLE_BOOL_NOTE)
        elif option["type"] == "int":
            note = ROLE_INT_NOTE % (name, option["default"])
            if ROLE_INT_MIN.get(name):
                note = note.replace("A whole number", "A whole number of at least %d" % ROLE_INT_MIN[name])
            option["description"].append(note)
        options[name] = option
    return options


class _IndentedDumper(yaml.SafeDumper):
    """Indents block sequences under their key, as yamllint (and ansible-lint) expect."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


def _role_option(doc: dict) -> dict:
    out = {k: v for k, v in doc.items() if k in ("type", "choices", "elements", "default")}
    out["description"] = doc["description"]
    if "suboptions" in doc:
        out["options"] = {k: _role_option(v) for k, v in doc["suboptions"].items()}
    return out


def role_var(key: str) -> str:
    """The role's variable for a spec option, in snake case (fullnameOverride -> modelserver_fullname_override)."""
    return "modelserver_" + re.sub(r"(?<=[a-z0-9])([A-Z])", lambda m: "_" + m.group(1).lower(), key)


def render_role_specs() -> str:
    options = _role_options()
    for key, doc in _spec().option_docs().items():
        option = _role_option(doc)
        option["description"] = ["The ModelServer spec's C(%s), as the module's option of that name." % key] + \
            option["description"]
        options[role_var(key)] = option
    specs = {"argument_specs": {"main": {
        "short_description": "Deploy OpenVINO model servers, wait for their pods and verify their models",
        "description": ["Applies a ModelServer spec with openvino.ovms.modelserver, waits for the rollout with a "
                        "progress line, verifies the models through OVMS's REST API, and on failure names each pod "
                        "or model that is not ready (and optionally rolls back).",
                        "With modelserver_servers, does the same for a whole fleet at once: see that option.",
                        "Booleans and numbers may be strings, as C(-e name=value) and AWX survey answers give them: "
                        "the role checks and converts them before use.",
                        "Generated from plugins/module_utils/_spec.py by tools/gen_docs.py: do not edit."],
        "options": options}}}
    return "---\n" + yaml.dump(specs, Dumper=_IndentedDumper, sort_keys=False, default_flow_style=False, width=110)


TARGETS = [ROOT / "plugins" / "modules" / "modelserver.py"]


def main(argv) -> int:
    stale = []
    new_specs = render_role_specs()
    if not ROLE_SPECS.exists() or ROLE_SPECS.read_text() != new_specs:
        stale.append(ROLE_SPECS)
        if "--check" not in argv:
            ROLE_SPECS.write_text(new_specs)
    for path, render in [(p, render_module) for p in TARGETS] + [(README, render_readme)]:
        new = render(path)
        if new != path.read_text():
            stale.append(path)
            if "--check" not in argv:
                path.write_text(new)
    if "--check" in argv and stale:
        print("out of date (run python tools/gen_docs.py): " + ", ".join(str(p) for p in stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
