#!/usr/bin/env bash
# ansible-test sanity on the collection laid out as ansible_collections/openvino/ovms, with the kubernetes.core
# that the `ansible` package installed beside it (ansible-test only sees collections there).
#   tools/sanity.sh [ansible-test options]                    the checkout's tracked files
#   tools/sanity.sh --tarball FILE [ansible-test options]     exactly a built tarball, installed with ansible-galaxy
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tarball=""
if [ "${1:-}" = "--tarball" ]; then tarball="$(realpath "$2")"; shift 2; fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if [ -n "$tarball" ]; then
  ANSIBLE_COLLECTIONS_PATH="$work" ansible-galaxy collection install --offline --no-deps --force -p "$work" "$tarball" >/dev/null
  echo "[sanity] $(basename "$tarball") installed into a temporary ansible_collections tree: $(find "$work/ansible_collections/openvino/ovms" -type f | wc -l) files"
else
  mkdir -p "$work/ansible_collections/openvino/ovms"
  (cd "$root" && git ls-files -z galaxy.yml meta plugins README.md | xargs -0 cp --parents -t "$work/ansible_collections/openvino/ovms")
fi
site="$(python -c 'import ansible_collections.kubernetes, os; print(os.path.dirname(list(ansible_collections.kubernetes.__path__)[0]))')"
ln -s "$site/kubernetes" "$work/ansible_collections/kubernetes"
# ansible-test bootstraps pip in its venvs with a script from a host these machines cannot reach:
# a stand-in that uses ensurepip and PyPI does the same job.
cache="$HOME/.ansible/test/cache"
mkdir -p "$cache"
[ -f "$cache/get_pip_24_2.py" ] || cp "$root/tools/get_pip_standin.py" "$cache/get_pip_24_2.py"
cd "$work/ansible_collections/openvino/ovms"
ansible-test sanity --python "$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')" "$@"
