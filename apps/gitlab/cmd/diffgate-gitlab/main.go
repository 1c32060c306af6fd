// Command diffgate-gitlab runs diffgate's GitLab bot alone: the webhook
// route, the gate and the publisher (`diffgate serve` runs it with every
// other component).
package main

import (
	"github.com/diffgate/diffgate/apps/gitlab"
	"github.com/diffgate/diffgate/shared/service"
)

func main() { service.Main("gitlab", gitlab.Build) }
