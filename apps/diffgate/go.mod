module github.com/diffgate/diffgate/apps/diffgate

go 1.26.0
