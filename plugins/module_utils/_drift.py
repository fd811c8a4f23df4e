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


def report(results, scans=None):
    """results: registered check-mode results of openvino.ovms.modelserver (a loop's .results, or a list).
    scans: registered results of the modelserver_info searches for undeclared servers (a loop over namespaces); a
    search that failed is an error too (its namespace was not searched), never a namespace without extras."""
    servers, counts = [], dict((k, 0) for k in ORDER)
    failed = [{"server": "namespace %s (search for undeclared model servers)" % r.get("item", r.get("namespace", "?")),
               "error": r.get("msg") or "no result"} for r in scans or [] if r.get("failed")]
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


def _server_sections(servers, level):
    lines = []
    for s in servers:
        lines += ["%s %s: %s" % ("#" * level, s["server"], "in sync" if s["in_sync"] else "DRIFT"), "",
                  "| object | status |", "|---|---|"]
        lines += ["| %s %s | %s |" % (o["kind"], o["name"], o["status"]) for o in s["objects"]]
        for o in s["objects"]:
            if o.get("changes"):
                lines += ["", "%s %s, field by field:" % (o["kind"], o["name"]), "",
                          "| field | live | declared |", "|---|---|---|"]
                lines += ["| %s | %s | %s |" % (c["path"], _value(c["before"]), _value(c["after"]))
                          for c in o["changes"]]
        lines.append("")
    return lines


def markdown(rep):
    """A report of one cluster (report()), or a fleet summary (fleet()): per cluster, per server, per object."""
    if "clusters" in rep:
        return _fleet_markdown(rep)
    lines = ["# Model server drift report", "", rep["summary"], ""]
    for e in rep["errors"]:
        lines.append("- **%s**: not checked: %s" % (e["server"], e["error"]))
    lines += _server_sections(rep["servers"], 2)
    return "\n".join(lines)


# a cluster whose play failed before its check ran (a bad variable, an unexpected error): it has no report
NO_REPORT = "the play failed on this cluster before its drift check ran (see this host's error in the play's output)"


def fleet(reports, report_dir="clusters"):
    """reports: [(cluster name, its report() or None)], in the play's order -> one summary of every cluster.

    The summary has the keys of a single report (summary, drifted_servers, errors, counts, servers: each server
    and error also naming its cluster), plus clusters: per cluster its summary, counts and report files. A cluster
    without a report is an error (NOT CHECKED), never a clean one."""
    clusters, servers, errors = [], [], []
    counts = dict((k, 0) for k in ORDER)
    for name, rep in reports:
        files = {"json": "%s/%s.json" % (report_dir, name), "markdown": "%s/%s.md" % (report_dir, name)}
        if not rep:
            rep, files = report([{"failed": True, "msg": NO_REPORT}]), None
        for k in ORDER:
            counts[k] += rep["counts"].get(k, 0)
        servers += [dict(s, cluster=name) for s in rep["servers"]]
        errors += [dict(e, cluster=name) for e in rep["errors"]]
        clusters.append({
            "cluster": name, "summary": rep["summary"], "servers": len(rep["servers"]),
            "drifted_servers": rep["drifted_servers"], "not_checked": len(rep["errors"]), "counts": rep["counts"],
            "status": "NOT CHECKED" if rep["errors"] else ("DRIFT" if rep["drifted_servers"] else "in sync"),
            "report": files})
    drifted = [c for c in clusters if c["drifted_servers"]]
    unchecked = [c for c in clusters if c["not_checked"]]
    summary = "drift over %d cluster%s: %d model servers, %d drifted%s%s; objects: %s" % (
        len(clusters), "" if len(clusters) == 1 else "s", len(servers), sum(c["drifted_servers"] for c in clusters),
        " (%s)" % ", ".join("%s: %d" % (c["cluster"], c["drifted_servers"]) for c in drifted) if drifted else "",
        ", NOT CHECKED in %s (errors: the report is incomplete)" % ", ".join(c["cluster"] for c in unchecked)
        if unchecked else "",
        ", ".join("%d %s" % (counts[k], k) for k in ORDER))
    return {"summary": summary, "drifted_servers": sum(c["drifted_servers"] for c in clusters),
            "drifted_clusters": len(drifted), "errors": errors, "counts": counts, "clusters": clusters,
            "servers": servers}


def _fleet_markdown(rep):
    lines = ["# Model server drift: %d cluster%s" % (len(rep["clusters"]), "" if len(rep["clusters"]) == 1 else "s"),
             "", rep["summary"], "",
             "| cluster | status | model servers | drifted | not checked | %s | report |" % " | ".join(
                 "objects %s" % k for k in ORDER),
             "|---|---|---|---|---|%s---|" % ("---|" * len(ORDER))]
    for c in rep["clusters"]:
        lines.append("| %s | %s | %d | %d | %d | %s | %s |" % (
            c["cluster"], c["status"], c["servers"], c["drifted_servers"], c["not_checked"],
            " | ".join(str(c["counts"].get(k, 0)) for k in ORDER),
            "[%s](%s)" % (c["report"]["markdown"], c["report"]["markdown"]) if c["report"] else "none"))
    lines.append("")
    for c in rep["clusters"]:
        lines += ["## Cluster %s: %s" % (c["cluster"], c["status"]), "", c["summary"], ""]
        for e in rep["errors"]:
            if e["cluster"] == c["cluster"]:
                lines.append("- **%s**: not checked: %s" % (e["server"], e["error"]))
        if c["not_checked"]:
            lines.append("")
        lines += _server_sections([s for s in rep["servers"] if s["cluster"] == c["cluster"]], 3)
    return "\n".join(lines)
