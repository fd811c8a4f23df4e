# -*- coding: utf-8 -*-
# Copyright (c) openvino.ovms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs the modelserver_migrate module as Ansible's default action does, passing it the collection's version (for its
User-Agent) from galaxy.yml or MANIFEST.json."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.openvino.ovms.plugins.plugin_utils._module_action import ModuleAction


class ActionModule(ModuleAction):
    pass
