# -*- coding: utf-8 -*-
# Copyright (c) openvino.ovms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""drift_report and drift_markdown: check-mode results of openvino.ovms.modelserver -> a drift report."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.openvino.ovms.plugins.module_utils import _drift


def drift_report(results):
    if isinstance(results, dict):
        results = results.get("results", [results])
    return _drift.report(results)


def drift_markdown(report):
    return _drift.markdown(report)


class FilterModule(object):
    def filters(self):
        return {"drift_report": drift_report, "drift_markdown": drift_markdown}
