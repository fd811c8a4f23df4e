#!/usr/bin/env bash
# ansible-test sanity on a copy of the collection laid out as ansible_collections/openvino/ovms, with the
# kubernetes.core that the `ansible` package installed beside it (ansible-test only sees collections there).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/ansible_collections/openvino/ovms"
(cd "$root" && git ls-files -z galaxy.yml meta plugins README.md | xargs -0 cp --parents -t "$work/ansible_collections/openvino/ovms")
site="$(python -c 'import ansible_collections.kubernetes, os; print(os.path.dirname(list(ansible_collections.kubernetes.__path__)[0]))')"
ln -s "$site/kubernetes" "$work/ansible_collections/kubernetes"
# ansible-test bootstraps pip in its venvs with a script from a host these machines cannot reach:
# a stand-in that uses ensurepip and PyPI does the same job.
cache="$HOME/.ansible/test/cache"
mkdir -p "$cache"
[ -f "$cache/get_pip_24_2.py" ] || cp "$root/tools/get_pip_standin.py" "$cache/get_pip_24_2.py"
cd "$work/ansible_collections/openvino/ovms"
ansible-test sanity --python "$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')" "$@"
