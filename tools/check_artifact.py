"""Check a built collection tarball against the list of what a user needs, file by file.

    python tools/check_artifact.py openvino-ovms-<version>.tar.gz

Every member of the tarball must match ALLOWED (an explicit allow-list: anything else, a test, a tool, a dev
requirements file, an editor or CI file, a stray untracked file, fails the check), and every file of REQUIRED
must be there. galaxy.yml's `manifest` decides what the build includes; this is the independent check of its
result that `make release` runs (and tests/unit/test_artifact.py).
"""
from __future__ import annotations

import fnmatch
import sys
import tarfile

# What a user of the installed collection needs, and nothing else.
ALLOWED = [
    "MANIFEST.json", "FILES.json",                  # written by ansible-galaxy collection build
    "README.md", "LICENSE", "CHANGELOG.rst",
    "changelogs/changelog.yaml",                     # the changelog's data (antsibull-changelog, Ansible's docs)
    "changelogs/config.yaml",                        # its sections and titles (the sanity test `changelog` reads it)
    "meta/runtime.yml",
    "meta/execution-environment.yml",                # ansible-builder: where the Python requirements are
    "meta/ee-requirements.txt",                      # the Python requirements, as ranges
    "plugins/action/*.py",
    "plugins/filter/*.py", "plugins/filter/*.yml",   # filters and their documentation
    "plugins/module_utils/*.py",
    "plugins/modules/*.py",
    "plugins/plugin_utils/*.py",
    "roles/modelserver/README.md",
    "roles/modelserver/defaults/main.yml",
    "roles/modelserver/meta/main.yml", "roles/modelserver/meta/argument_specs.yml",
    "roles/modelserver/tasks/*.yml",
    "playbooks/*.yml", "playbooks/vars/*.yml", "playbooks/examples/*.yml",
    "playbooks/inventory/*.yml",                     # an example inventory of clusters
    "playbooks/tasks/*.yml",                         # the migration playbook's per-server tasks
    "rbac/*.yaml",                                   # the least-privilege Role, binding and ClusterRoles
]
# Directory entries of the above.
ALLOWED_DIRS = ["changelogs", "meta", "plugins", "plugins/*", "roles", "roles/modelserver", "roles/modelserver/*",
                "playbooks", "playbooks/vars", "playbooks/examples", "playbooks/inventory", "playbooks/tasks", "rbac"]
REQUIRED = ["MANIFEST.json", "FILES.json", "README.md", "LICENSE", "CHANGELOG.rst", "changelogs/changelog.yaml",
            "meta/runtime.yml", "meta/execution-environment.yml", "meta/ee-requirements.txt",
            "plugins/modules/modelserver.py", "plugins/modules/modelserver_info.py",
            "plugins/action/modelserver.py", "plugins/action/modelserver_info.py",
            "plugins/modules/modelserver_migrate.py", "plugins/action/modelserver_migrate.py",
            "playbooks/migrate.yml", "playbooks/tasks/migrate_server.yml",
            "roles/modelserver/README.md", "roles/modelserver/tasks/main.yml",
            "roles/modelserver/meta/argument_specs.yml", "playbooks/deploy.yml", "playbooks/drift.yml",
            "playbooks/undeploy.yml", "playbooks/render.yml", "playbooks/vars/servers.yml",
            "playbooks/vars/clusters.yml", "playbooks/inventory/clusters.example.yml", "rbac/role.yaml"]


def allowed(name: str, is_dir: bool) -> bool:
    # fnmatch's * also matches "/": patterns are matched segment by segment instead
    def match(pattern):
        parts, pparts = name.split("/"), pattern.split("/")
        return len(parts) == len(pparts) and all(fnmatch.fnmatchcase(a, b) for a, b in zip(parts, pparts))
    return any(match(p) for p in (ALLOWED_DIRS if is_dir else ALLOWED))


def problems(path: str) -> list[str]:
    """What is wrong with the tarball at path: members a user does not need, required files missing."""
    with tarfile.open(path) as tar:
        members = tar.getmembers()
    out = []
    names = set()
    for m in members:
        name = m.name.rstrip("/")
        names.add(name)
        if not (m.isdir() or m.isfile()):
            out.append("%s: not a regular file or directory" % name)
        elif not allowed(name, m.isdir()):
            out.append("%s: not something a user needs (not in tools/check_artifact.py's allow-list)" % name)
    out += ["%s: missing" % name for name in REQUIRED if name not in names]
    return out


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__)
    found = problems(argv[1])
    for line in found:
        print("[check_artifact] %s" % line, file=sys.stderr)
    if found:
        return 1
    with tarfile.open(argv[1]) as tar:
        count = sum(1 for m in tar.getmembers() if m.isfile())
    print("[check_artifact] %s: %d files, each one on the allow-list" % (argv[1], count))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
