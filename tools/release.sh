#!/usr/bin/env bash
# make release: build the collection tarball and check exactly that file, the way Galaxy and a user get it.
#   1. changelog: antsibull-changelog lint; CHANGELOG.rst must be what changelogs/changelog.yaml generates;
#      fragments not yet in a release are listed (`make changelog` adds them to galaxy.yml's version)
#   2. ansible-galaxy collection build -> $RELEASE_DIR (default dist/, git-ignored)
#   3. tools/check_artifact.py: every file of `tar tzf` on the allow-list, nothing required missing
#   4. galaxy-importer (tools/galaxy-importer.cfg: offline, no container), failing on any ERROR it prints
#   5. ansible-test sanity on the tarball installed into a temporary ansible_collections tree (tools/sanity.sh)
# Needs RELEASE_VENV (the release tooling's virtual environment, requirements-release.txt) and, first on PATH,
# the test environment (ansible-test and the kubernetes.core it finds): the Makefile sets both.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
: "${RELEASE_VENV:?set RELEASE_VENV to the release tooling venv (make release does)}"
rel="$RELEASE_VENV/bin"
dist="${RELEASE_DIR:-$root/dist}"
start=$SECONDS
step() { echo "[release] $(( SECONDS - start )) s: $*"; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$root"

step "changelog"
"$rel/antsibull-changelog" lint
mkdir -p "$work/changelog"
cp -r galaxy.yml changelogs "$work/changelog/"
[ -f CHANGELOG.rst ] && cp CHANGELOG.rst "$work/changelog/"
(cd "$work/changelog" && "$rel/antsibull-changelog" generate)
if ! diff -u CHANGELOG.rst "$work/changelog/CHANGELOG.rst"; then
  echo "[release] CHANGELOG.rst is not what changelogs/changelog.yaml generates: run make changelog" >&2
  exit 1
fi
pending="$(find changelogs/fragments -name '*.y*ml' 2>/dev/null | sort)"
if [ -n "$pending" ]; then
  echo "[release] NOTE: fragments not in any release yet (not in this tarball's CHANGELOG.rst; before publishing,"
  echo "[release]       'make changelog' adds them to version $(awk '/^version:/ {print $2}' galaxy.yml)):"
  echo "$pending" | sed 's/^/[release]         /'
fi

step "build"
rm -rf "$dist"
mkdir -p "$dist"
"$rel/ansible-galaxy" collection build --output-path "$dist" "$root" >/dev/null
tarball="$(ls "$dist"/*.tar.gz)"
echo "[release] $tarball"

step "tar tzf against the allow-list"
python tools/check_artifact.py "$tarball"

step "galaxy-importer $("$rel/python" -c 'import importlib.metadata as m; print(m.version("galaxy-importer"))')"
(cd "$work" && GALAXY_IMPORTER_CONFIG="$root/tools/galaxy-importer.cfg" PATH="$rel:$PATH" \
   "$rel/python" -m galaxy_importer.main "$tarball") > "$work/importer.log" 2>&1 || {
  cat "$work/importer.log"; echo "[release] galaxy-importer failed" >&2; exit 1; }
grep -v '^Loading ' "$work/importer.log" | sed 's/^/[galaxy-importer] /'
if grep -E '^(ERROR|CRITICAL|WARNING)' "$work/importer.log" >/dev/null \
   || ! grep -q 'Importer processing completed successfully' "$work/importer.log"; then
  echo "[release] galaxy-importer reported errors or warnings (above)" >&2
  exit 1
fi

step "ansible-test sanity on the tarball"
tools/sanity.sh --tarball "$tarball"

step "done: $tarball"
