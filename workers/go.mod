module github.com/diffgate/diffgate/workers

go 1.26.0

require github.com/diffgate/diffgate/shared v0.0.0

replace github.com/diffgate/diffgate/shared => ../shared
