# -*- coding: utf-8 -*-
# Copyright (c) openvino.ovms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""drift_report, drift_fleet and drift_markdown: check-mode results of openvino.ovms.modelserver -> a drift report
(one cluster), a fleet summary (every cluster of a play), and either as Markdown."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.openvino.ovms.plugins.module_utils import _drift


def _results(registered):
    if isinstance(registered, dict):
        return registered.get("results", [registered])
    return registered or []


def drift_report(results, scans=None):
    return _drift.report(_results(results), _results(scans))


def drift_fleet(clusters, hostvars, fact="drift_report", report_dir="clusters"):
    """clusters: inventory host names (ansible_play_hosts_all); each host's report is its fact `fact`."""
    return _drift.fleet([(name, (hostvars.get(name) or {}).get(fact)) for name in clusters], report_dir)


def drift_markdown(report):
    return _drift.markdown(report)


class FilterModule(object):
    def filters(self):
        return {"drift_report": drift_report, "drift_markdown": drift_markdown, "drift_fleet": drift_fleet}
