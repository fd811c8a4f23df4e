# -*- coding: utf-8 -*-
# Copyright (c) openvino.ovms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to the openvino.ovms collection.
"""Check-mode results of the modelserver module -> a drift report (JSON-able dict and Markdown)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

# what a check-mode action means for drift
STATUS = {"unchanged": "in sync", "updated": "drifted", "created": "missing", "deleted": "unexpected extra"}
ORDER = ("in sync", "drifted", "missing", "unexpected extra")


def report(results):
    """results: registered check-mode results of openvino.ovms.modelserver (a loop's .results, or a list)."""
    servers, counts = [], dict((k, 0) for k in ORDER)
    failed = []
    for r in results:
        # a fleet check that failed as a whole (a refused spec, a 403, the API server down) has no name: it stands
        # for every declared server, none of which was checked; it is an error, never a clean report
        name = "%s/%s" % (r["namespace"], r["name"]) if r.get("name") else "every declared server"
        if r.get("failed") or "objects" not in r:
            failed.append({"server": name, "error": r.get("msg") or "no result"})
            continue
        objects = []
        for o in r.get("objects", []):
            status = STATUS.get(o["action"], o["action"])
            counts[status] = counts.get(status, 0) + 1
            entry = {"kind": o["kind"], "name": o["name"], "status": status}
            if o.get("changes"):
                entry["changes"] = o["changes"]
            objects.append(entry)
        servers.append({"server": name, "in_sync": all(o["status"] == "in sync" for o in objects), "objects": objects})
    drifted = sum(1 for s in servers if not s["in_sync"])
    summary = "drift: %d model servers, %d drifted%s; objects: %s" % (
        len(servers), drifted, ", %d NOT CHECKED (errors: the report is incomplete)" % len(failed) if failed else "",
        ", ".join("%d %s" % (counts[k], k) for k in ORDER))
    return {"summary": summary, "drifted_servers": drifted, "errors": failed, "counts": counts, "servers": servers}


def _value(v):
    text = json.dumps(v, sort_keys=True) if not isinstance(v, str) else v
    text = text.replace("|", "\\|").replace("\n", " ")
    return "`%s`" % (text if len(text) <= 120 else text[:117] + "...")


def markdown(rep):
    lines = ["# Model server drift report", "", rep["summary"], ""]
    for e in rep["errors"]:
        lines.append("- **%s**: not checked: %s" % (e["server"], e["error"]))
    for s in rep["servers"]:
        lines += ["## %s: %s" % (s["server"], "in sync" if s["in_sync"] else "DRIFT"), "",
                  "| object | status |", "|---|---|"]
        lines += ["| %s %s | %s |" % (o["kind"], o["name"], o["status"]) for o in s["objects"]]
        for o in s["objects"]:
            if o.get("changes"):
                lines += ["", "%s %s, field by field:" % (o["kind"], o["name"]), "",
                          "| field | live | declared |", "|---|---|---|"]
                lines += ["| %s | %s | %s |" % (c["path"], _value(c["before"]), _value(c["after"]))
                          for c in o["changes"]]
        lines.append("")
    return "\n".join(lines)
