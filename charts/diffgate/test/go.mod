module github.com/diffgate/diffgate/charts/diffgate/test

go 1.26.0
