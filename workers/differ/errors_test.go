package differ

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"

	mysqldrv "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/diffgate/diffgate/shared/config"
	"github.com/diffgate/diffgate/shared/datadiff"
)

func TestTransient(t *testing.T) {
	// Errors arrive wrapped by the engine, the way Source.Diff returns them.
	wrap := func(err error) error {
		return &datadiff.Error{Kind: datadiff.ErrBadFilter, Msg: "the filter does not compile", Err: fmt.Errorf("statement: %w", err)}
	}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{"connection reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"server went away mid-statement", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{"postgres shutting down", &pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}, true},
		{"postgres starting up", &pgconn.PgError{Code: "57P03"}, true},
		{"postgres too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"postgres deadlock", &pgconn.PgError{Code: "40P01"}, true},
		{"postgres connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"mariadb gone away", &mysqldrv.MySQLError{Number: 2006}, true},
		{"mariadb too many connections", &mysqldrv.MySQLError{Number: 1040}, true},
		{"mariadb invalid connection", mysqldrv.ErrInvalidConn, true},
		{"postgres wrong password", &pgconn.PgError{Code: "28P01", Message: "password authentication failed"}, false},
		{"postgres permission denied", &pgconn.PgError{Code: "42501"}, false},
		{"postgres syntax error", &pgconn.PgError{Code: "42601"}, false},
		{"postgres statement timeout", &pgconn.PgError{Code: "57014", Message: "canceling statement due to statement timeout"}, false},
		{"mariadb access denied", &mysqldrv.MySQLError{Number: 1045}, false},
		{"mariadb no such table", &mysqldrv.MySQLError{Number: 1146}, false},
		{"engine sentinel", datadiff.ErrBadSpec, false},
		{"anything else", errors.New("division by zero"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := transient(wrap(tc.err)); got != tc.want {
				t.Errorf("transient(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestDSNSecrets(t *testing.T) {
	for _, tc := range []struct {
		dsn, text, want string
	}{
		{"postgres://diffgate:s3cr%2Ft-pw@db:5432/wh", "login as diffgate with s3cr/t-pw and s3cr%2Ft-pw failed",
			"login as diffgate with [redacted] and [redacted] failed"},
		{"host=db user=diffgate password='pw with space' dbname=wh", "bad pw with space", "bad [redacted]"},
		{"host=db user=diffgate password=plainpass dbname=wh", "bad plainpass", "bad [redacted]"},
		{"diffgate:my-sql-pw@tcp(db:3306)/wh", "denied for my-sql-pw", "denied for [redacted]"},
		{"postgres://db/wh?password=querypass", "bad querypass", "bad [redacted]"},
		{"/data/warehouse.duckdb", "cannot open /data/warehouse.duckdb", "cannot open [redacted]"},
	} {
		got := config.Redact(tc.text, dsnSecrets(tc.dsn)...)
		if got != tc.want {
			t.Errorf("redact %q with the secrets of %q = %q, want %q", tc.text, tc.dsn, got, tc.want)
		}
		if strings.Contains(config.Redact(tc.dsn, dsnSecrets(tc.dsn)...), "pw") {
			t.Errorf("the DSN %q itself is not redacted", tc.dsn)
		}
	}
}
