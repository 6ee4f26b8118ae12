#!/usr/bin/env bash
# Prints the CHANGELOG.md section of one version (`## [1.2.0] ...` up to the next `## `), for the
# release workflow's notes. Usage: scripts/release-notes.sh 1.2.0 [CHANGELOG.md]. Exits 1 with one
# line when the changelog has no such section, so a tag without its notes does not release.
set -euo pipefail
version="${1:?usage: release-notes.sh VERSION [CHANGELOG]}"
version="${version#v}"
file="${2:-$(dirname "${BASH_SOURCE[0]}")/../CHANGELOG.md}"
notes="$(awk -v v="$version" '
  /^## / { inside = index($0, "## [" v "]") == 1; next }
  inside { print }
' "$file")"
if [ -z "${notes//[[:space:]]/}" ]; then
  echo "release-notes: $file has no section for version $version" >&2
  exit 1
fi
printf '%s\n' "$notes"
