module github.com/diffgate/diffgate/apps/gitlab

go 1.26.0
