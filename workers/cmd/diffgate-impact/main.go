// Command diffgate-impact runs the impact stage of the pipeline on its own.
package main

import (
	"github.com/diffgate/diffgate/shared/service"
	"github.com/diffgate/diffgate/workers/impact"
)

func main() { service.Main("impact", impact.Build) }
