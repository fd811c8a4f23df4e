# -*- coding: utf-8 -*-
# Copyright (c) openvino.ovms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""fleet_report: the modelserver role's fleet results (apply, wait, rollback) -> one result per server."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.openvino.ovms.plugins.module_utils import _status


def fleet_report(applied, waited=None, rolled_back=None, pending_cause="not waited for"):
    if isinstance(applied, dict):
        applied = applied.get("results", [])
    if isinstance(waited, dict):
        waited = waited.get("modelservers", [])
    if isinstance(rolled_back, dict):
        rolled_back = rolled_back.get("results", [])
    return _status.fleet_report(applied, waited, rolled_back, pending_cause)


class FilterModule(object):
    def filters(self):
        return {"fleet_report": fleet_report}
