#!/usr/bin/env bash
# Lists the workspace's module directories, one per line, from go.work, so
# that every Makefile target covers exactly the modules the workspace does.
set -o errexit -o nounset -o pipefail
cd "$(dirname "$0")/.."
go work edit -json | sed -n 's/.*"DiskPath": "\(.*\)".*/\1/p' | sed 's|^\./||'
