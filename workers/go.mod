module github.com/diffgate/diffgate/workers

go 1.26.0
