#!/usr/bin/env bash
# Each module must build on its own, outside the workspace: its go.mod must
# name (and replace) the sibling modules it imports.
set -o errexit -o nounset -o pipefail
cd "$(dirname "$0")/.."
for m in $(./scripts/modules.sh); do
	(cd "$m" && GOWORK=off go build ./... && GOWORK=off go vet ./... >/dev/null) || {
		echo "module $m does not build on its own (GOWORK=off)"; exit 1; }
done
