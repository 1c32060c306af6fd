// Command diffgate-reporter runs the reporter stage alone: it gathers each
// run's diff plan and results and publishes progress and the final report.
// `diffgate serve` runs the same component in one process with the others.
package main

import (
	"github.com/diffgate/diffgate/shared/service"
	"github.com/diffgate/diffgate/workers/reporter"
)

func main() { service.Main(reporter.Name, reporter.Build) }
