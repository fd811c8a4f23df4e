# -*- coding: utf-8 -*-
# Copyright (c) openvino.ovms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to the openvino.ovms collection.
"""The collection's version, written once (galaxy.yml; MANIFEST.json in a built or installed collection).

A module runs from an AnsiballZ zip that holds no galaxy.yml or MANIFEST.json, so the version is read on the
controller: this collection's action plugins (plugins/action/, which run the module exactly as Ansible's
default action would) read it with read_version() and hand it to the module in the environment variable
VERSION_ENV, the way a task's `environment:` reaches a module. Outside Ansible (a unit test importing this
file from a checkout) the file's own collection directory is read instead.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

VERSION_ENV = "OPENVINO_OVMS_COLLECTION_VERSION"
UNKNOWN = "unknown"


def read_version(root):
    """The version of the collection in directory root: MANIFEST.json (installed) or galaxy.yml (a checkout);
    None when root holds neither."""
    manifest = os.path.join(root, "MANIFEST.json")
    if os.path.isfile(manifest):
        with open(manifest) as handle:
            return json.load(handle)["collection_info"]["version"]
    galaxy = os.path.join(root, "galaxy.yml")
    if os.path.isfile(galaxy):
        import yaml

        with open(galaxy) as handle:
            return str(yaml.safe_load(handle)["version"])
    return None


def collection_root():
    """The collection's directory, three levels above this file (plugins/module_utils/_version.py)."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def collection_version():
    """The version the action plugin passed, else the one beside this file, else "unknown" (never fails: it only
    names the client)."""
    version = os.environ.get(VERSION_ENV)
    if version:
        return version
    try:
        return read_version(collection_root()) or UNKNOWN
    except Exception:  # a zip (AnsiballZ) or an unreadable file: the user agent is not worth failing for
        return UNKNOWN


def user_agent():
    """The User-Agent header this collection's requests carry: openvino.ovms/<version>."""
    return "openvino.ovms/%s" % collection_version()
