# -*- coding: utf-8 -*-
# Copyright (c) openvino.ovms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The migration_manifest filter: a ModelServer manifest as applied while its objects are taken over from the operator
(update strategy RollingUpdate with maxUnavailable 0)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.openvino.ovms.plugins.module_utils import _migrate


def migration_manifest(manifest):
    if not isinstance(manifest, dict):
        raise AnsibleFilterError("migration_manifest: expected a ModelServer manifest (a mapping), got %s"
                                 % type(manifest).__name__)
    return _migrate.move_manifest(manifest)


class FilterModule(object):
    def filters(self):
        return {"migration_manifest": migration_manifest}
