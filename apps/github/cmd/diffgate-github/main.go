// Command diffgate-github runs diffgate's GitHub App alone: the webhook
// route, the gate and the publisher (`diffgate serve` runs it with every
// other component).
package main

import (
	"github.com/diffgate/diffgate/apps/github/app"
	"github.com/diffgate/diffgate/shared/service"
)

func main() { service.Main("github", app.Build) }
