# -*- coding: utf-8 -*-
# Copyright (c) openvino.ovms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this plugin_utils file is internal to the openvino.ovms collection.
"""The action plugin of this collection's modules: Ansible's default action (ansible.builtin.normal), which also
puts the collection's version in the module's environment, read here on the controller from galaxy.yml or
MANIFEST.json (see module_utils/_version.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible.errors import AnsibleError
from ansible.plugins.action.normal import ActionModule as NormalAction

from ansible_collections.openvino.ovms.plugins.module_utils._version import VERSION_ENV, read_version

_VERSION = []


def collection_version():
    """This collection's version, from the directory the controller loaded it from (read once per process)."""
    if not _VERSION:
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        version = read_version(root)
        if not version:
            raise AnsibleError("openvino.ovms: neither MANIFEST.json nor galaxy.yml in %s" % root)
        _VERSION.append(version)
    return _VERSION[0]


class ModuleAction(NormalAction):
    """Runs the module as the default action does; its environment also carries VERSION_ENV."""

    def _compute_environment_string(self, raw_environment_out=None):
        environment = {}
        super(ModuleAction, self)._compute_environment_string(environment)
        environment[VERSION_ENV] = collection_version()
        if isinstance(raw_environment_out, dict):
            raw_environment_out.clear()
            raw_environment_out.update(environment)
        return self._connection._shell.env_prefix(**environment)
