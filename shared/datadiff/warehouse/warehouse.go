// Package warehouse opens a data source of the diff engine by type and
// DSN. It links every dialect (and so cgo, for DuckDB); packages that only
// need the result types import datadiff alone.
package warehouse

import (
	"context"
	"fmt"
	"strings"

	"github.com/diffgate/diffgate/shared/datadiff"
	"github.com/diffgate/diffgate/shared/datadiff/duckdb"
	"github.com/diffgate/diffgate/shared/datadiff/mysql"
	"github.com/diffgate/diffgate/shared/datadiff/postgres"
)

// Types are the data source types Open accepts, as diffgate.yaml spells
// them.
var Types = []string{"postgres", "duckdb", "mysql"}

// Open opens a data source:
//   - postgres: a PostgreSQL URL or key=value DSN ("postgresql" works too);
//   - duckdb: a file path, opened read-only, or empty for an in-memory
//     database;
//   - mysql: a MySQL or MariaDB DSN, user:pass@tcp(host:3306)/db or
//     mysql://user:pass@host:3306/db ("mariadb" works too).
func Open(ctx context.Context, typ, dsn string, o datadiff.Options) (*datadiff.Source, error) {
	switch strings.ToLower(strings.TrimSpace(typ)) {
	case "postgres", "postgresql":
		return postgres.Open(ctx, dsn, o)
	case "duckdb":
		return duckdb.Open(ctx, dsn, o)
	case "mysql", "mariadb":
		return mysql.Open(ctx, dsn, o)
	}
	return nil, fmt.Errorf("data source type %q: want one of %s: %w", typ, strings.Join(Types, ", "), datadiff.ErrUnsupported)
}
