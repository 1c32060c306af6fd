package differ

import (
	"strings"
	"testing"

	"github.com/diffgate/diffgate/shared/config"
)

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
