// Command diffgate-differ runs the differ stage of the pipeline on its own:
// one consumer per configured data source, diffing each model in the
// warehouse.
package main

import (
	"github.com/diffgate/diffgate/shared/service"
	"github.com/diffgate/diffgate/workers/differ"
)

func main() { service.Main("differ", differ.Build) }
