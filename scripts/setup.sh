#!/usr/bin/env bash
# Installs what building and testing diffgate needs beyond Go: Chromium for
# the details-page browser tests, and the lint tools. Safe to run again.
set -o errexit -o nounset -o pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v chromium >/dev/null || need_apt+=(chromium)
command -v gcc >/dev/null || need_apt+=(gcc)
if [ ${#need_apt[@]} -gt 0 ]; then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	echo "setup: installing ${need_apt[*]}"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

make tools
# Helm for `make chart` and the chart tests' helm lint, from the Go module proxy.
[ -x "$(go env GOPATH)/bin/helm" ] || command -v helm >/dev/null || go install helm.sh/helm/v3/cmd/helm@v3.22.0
