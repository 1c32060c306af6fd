// Command diffgate-ciwait runs the ciwait stage of the pipeline on its own.
package main

import (
	"github.com/diffgate/diffgate/shared/service"
	"github.com/diffgate/diffgate/workers/ciwait"
)

func main() { service.Main("ciwait", ciwait.Build) }
