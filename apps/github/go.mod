module github.com/diffgate/diffgate/apps/github

go 1.26.0
