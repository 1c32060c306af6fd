#!/usr/bin/env bash
# Checks the Dockerfile against the workspace (CI cannot run Docker): it
# must copy go.work, go.work.sum and every workspace module's go.mod and
# go.sum before the sources (so the dependency layer is cached and the
# workspace resolves), build with cgo (DuckDB) and run as a non-root user.
set -o errexit -o nounset -o pipefail
cd "$(dirname "$0")/.."

dockerfile=${1:-Dockerfile}
fail=0
problem() { echo "check-dockerfile: $dockerfile: $*" >&2; fail=1; }

# The line of the first COPY of the whole tree: everything the dependency
# layer needs must be copied before it.
sources=$(grep -nE '^COPY[[:space:]]+(\.|\./)[[:space:]]' "$dockerfile" | head -n1 | cut -d: -f1)
if [ -z "$sources" ]; then
	problem "no 'COPY . .' of the sources"
	sources=999999
fi

# copied FILE: FILE appears as a source of a COPY before the sources.
copied() {
	awk -v file="$1" -v before="$sources" '
		NR >= before { exit }
		$1 == "COPY" { for (i = 2; i < NF; i++) if ($i == file) { found = 1 } }
		END { exit !found }' "$dockerfile"
}

for f in go.work go.work.sum; do
	copied "$f" || problem "does not copy $f before the sources"
done
modules=$(./scripts/modules.sh)
[ -n "$modules" ] || problem "scripts/modules.sh listed no module"
for m in $modules; do
	for f in go.mod go.sum; do
		copied "$m/$f" || problem "does not copy $m/$f before the sources: add it to the COPY lines at the top"
		[ -f "$m/$f" ] || problem "copies $m/$f, which does not exist: run 'go mod tidy' in $m"
	done
done

grep -qE '^ENV[[:space:]].*CGO_ENABLED=1' "$dockerfile" || problem "does not build with CGO_ENABLED=1 (DuckDB needs cgo)"
user=$(grep -E '^USER[[:space:]]' "$dockerfile" | tail -n1 | awk '{print $2}')
case "${user%%:*}" in
	"") problem "has no USER: the image must not run as root" ;;
	0 | root) problem "runs as root (USER $user)" ;;
	*[!0-9]*) problem "USER $user is not numeric: Kubernetes runAsNonRoot cannot verify a name" ;;
esac

exit $fail
