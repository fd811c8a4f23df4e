# -*- coding: utf-8 -*-
# Copyright (c) openvino.ovms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to the openvino.ovms collection.
"""Credentials in the input: which keys hold them, their values (for Ansible's no_log masking, registered before
anything can fail), and the refusal of unknown keys that look like misspelled credentials."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible.module_utils.basic import AnsibleModule

# The ModelServer fields that hold credentials (the schema marks the same fields secret=True; a unit test checks).
CREDENTIAL_KEYS = ("aws_secret_access_key", "aws_access_key_id", "aws_session_token", "azure_storage_connection_string")
# Words of a key that hold a credential ("key" alone is a label key in tolerations and selectors: not one).
_WORDS = ("secret", "secrets", "token", "password", "passwd", "pwd", "credential", "credentials", "creds",
          "connectionstring", "apikey", "accesskey", "privatekey")
# A key ending with one of these names or points at a credential, it does not hold one (tls_secret_name, secretKeyRef).
_REFERENCE_WORDS = ("name", "names", "ref", "path", "file", "dir", "mount", "id")
_MAX_DISTANCE = 3
_MIN_GUESSED_LENGTH = 4  # a value this short under a guessed key is not worth blanking out every output for


def _words(key):
    """lower-case words of a key: aws_secret_access_key, secretKeyRef, Connection-String."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(key))
    return [w for w in re.split(r"[^a-z0-9]+", spaced.lower()) if w]


def looks_like_credential(key):
    """True for a key that by its name holds a credential (known credential fields included)."""
    if not isinstance(key, str):  # a number or None is no name (and str() of a huge int raises)
        return False
    if key in CREDENTIAL_KEYS:
        return True
    words = _words(key)
    if not words or words[-1] in _REFERENCE_WORDS:
        return False
    joined = "".join(words)
    glued = ("connectionstring", "apikey", "accesskey", "privatekey", "secretkey", "accountkey")
    if any(w in _WORDS for w in words) or any(w in joined for w in glued):
        return True
    return "key" in words and len(words) > 1  # access_key, account_key; not a bare "key"


def distance(a, b):
    """Levenshtein edit distance."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def closest_credential_key(key):
    """The known credential key within a small edit distance of key, or None."""
    if not isinstance(key, str):
        return None
    key = key.lower()
    near = [k for k in CREDENTIAL_KEYS if abs(len(k) - len(key)) <= _MAX_DISTANCE]  # a cheap bound first
    scored = sorted((distance(key, k), k) for k in near)
    return scored[0][1] if scored and scored[0][0] <= _MAX_DISTANCE else None


def unknown_credential(key):
    """For an unknown key of models_repository: why it is refused (it looks like a credential), or None.
    The message names the key, never its value."""
    near = closest_credential_key(key)
    if near is None and not looks_like_credential(key):
        return None
    return ("unknown key that looks like a credential%s: the operator would ignore it and the server would run "
            "without the credential, so it is refused (its value is not shown). Credential keys: %s"
            % (" (did you mean %s?)" % near if near else "", ", ".join(CREDENTIAL_KEYS)))


def _scalars(value, depth=0):
    if depth > 100:
        return
    if isinstance(value, (dict, list, tuple)):  # module_utils also run on Python 2.7 targets: no `yield from`
        for v in (value.values() if isinstance(value, dict) else value):
            for s in _scalars(v, depth + 1):  # pylint: disable=use-yield-from
                yield s
    elif value is not None and not isinstance(value, bool):
        try:
            yield str(value)
        except ValueError:  # an int too large to print (Python's limit): nothing prints it either
            pass


def credential_values(data, plain_keys=(), _depth=0):
    """Every value held under a credential-like key anywhere in data (dicts, lists, any junk), as strings, for
    no_log masking. plain_keys: keys that look like credentials but are known to hold none (a Secret's name)."""
    found = set()
    if _depth > 100:
        return found
    if isinstance(data, dict):
        for key, value in data.items():
            if key not in plain_keys and (key in CREDENTIAL_KEYS or closest_credential_key(key)
                                          or looks_like_credential(key)):
                known = key in CREDENTIAL_KEYS or closest_credential_key(key) is not None
                found.update(s for s in _scalars(value) if s and (known or len(s) >= _MIN_GUESSED_LENGTH))
            else:
                found.update(credential_values(value, plain_keys, _depth + 1))
    elif isinstance(data, (list, tuple)):
        for value in data:
            found.update(credential_values(value, plain_keys, _depth + 1))
    return found


def file_credential_values(path, plain_keys=()):
    """credential_values of a YAML file's documents; nothing when it cannot be read (the module says why later)."""
    try:
        import yaml

        with open(path, "rb") as handle:
            docs = list(yaml.safe_load_all(handle.read(1 << 24)))
    except Exception:  # anything: unreadable, not YAML, not UTF-8; the real read reports it
        return set()
    return credential_values(docs, plain_keys)


class MaskingModule(AnsibleModule):
    """An AnsibleModule that registers every credential of its raw input for masking before the argument spec is
    validated: a refusal at any step (unsupported option, mutually exclusive options, a bad manifest) shows no
    credential in its message or in invocation.module_args. plain_keys: see credential_values."""

    def __init__(self, plain_keys=(), **kwargs):
        self._plain_keys = frozenset(plain_keys)
        super(MaskingModule, self).__init__(**kwargs)

    def _load_params(self):
        super(MaskingModule, self)._load_params()
        params = self.params if isinstance(self.params, dict) else {}
        self.no_log_values.update(credential_values(params, self._plain_keys))
        if isinstance(params.get("src"), str):
            path = os.path.expanduser(os.path.expandvars(params["src"]))  # as type=path will
            self.no_log_values.update(file_credential_values(path, self._plain_keys))
