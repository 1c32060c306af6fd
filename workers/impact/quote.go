package impact

import (
	"fmt"

	"github.com/diffgate/diffgate/shared/config"
	"github.com/diffgate/diffgate/shared/datadiff"
	"github.com/diffgate/diffgate/shared/datadiff/duckdb"
	"github.com/diffgate/diffgate/shared/datadiff/mysql"
	"github.com/diffgate/diffgate/shared/datadiff/postgres"
	"github.com/diffgate/diffgate/shared/events"
)

// dialect is the diff engine's dialect of a data source type. A Hightouch
// model's PR query names relations the way the differ will run it, so it
// is quoted by the same code.
func dialect(typ string) (datadiff.Dialect, error) {
	switch typ {
	case config.TypePostgres:
		return postgres.Dialect{}, nil
	case config.TypeMySQL:
		return &mysql.Dialect{}, nil
	case config.TypeDuckDB:
		return duckdb.Dialect{}, nil
	}
	return nil, fmt.Errorf("data source type %q has no SQL dialect", typ)
}

// quoter returns the function that renders a relation for the data source
// type, or an error for a type without a dialect.
func quoter(typ string) (func(events.Relation) (string, error), error) {
	d, err := dialect(typ)
	if err != nil {
		return nil, err
	}
	return func(r events.Relation) (string, error) { return d.Relation(r.Datadiff()) }, nil
}
