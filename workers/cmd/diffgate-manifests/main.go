// Command diffgate-manifests runs the manifests stage of the pipeline on its own.
package main

import (
	"github.com/diffgate/diffgate/shared/service"
	"github.com/diffgate/diffgate/workers/manifests"
)

func main() { service.Main("manifests", manifests.Build) }
