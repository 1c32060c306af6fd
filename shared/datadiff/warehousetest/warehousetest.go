// Package warehousetest gives a test a database of its own on the
// PostgreSQL and MariaDB servers the tests use, dropped when the test
// ends. The servers are DIFFGATE_TEST_POSTGRES and DIFFGATE_TEST_MYSQL,
// else the local ones. Without a server the test is skipped, except under
// CI=true, where it fails (testenv.SkipOrFail).
package warehousetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"

	"github.com/diffgate/diffgate/shared/testenv"
)

// PostgresServer is the DSN of the PostgreSQL server the tests use, on
// its postgres database.
func PostgresServer() string {
	if dsn := os.Getenv("DIFFGATE_TEST_POSTGRES"); dsn != "" {
		return dsn
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// MySQLServer is the DSN of the MariaDB (or MySQL) server the tests use.
func MySQLServer() string {
	if dsn := os.Getenv("DIFFGATE_TEST_MYSQL"); dsn != "" {
		return dsn
	}
	return "root@tcp(127.0.0.1:3306)/"
}

// PostgresDSN is the DSN of database name on the PostgreSQL test server.
func PostgresDSN(tb testing.TB, name string) string {
	u, err := url.Parse(PostgresServer())
	if err != nil {
		tb.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// RandHex is n random bytes in hex: a suffix that keeps the names of
// parallel tests (and of runs sharing a server) apart.
func RandHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Postgres creates the database prefix_<random> and returns its name, its
// DSN and a connection to the server as its administrator.
func Postgres(tb testing.TB, prefix string) (name, dsn string, admin *sql.DB) {
	tb.Helper()
	admin = open(tb, "pgx", PostgresServer(), "PostgreSQL")
	name = prefix + "_" + RandHex(6)
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if _, err := admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			tb.Errorf("drop test database: %v", err)
		}
	})
	return name, PostgresDSN(tb, name), admin
}

// MySQL creates the database prefix_<random> (utf8mb4) and returns its
// name and DSN, parsed for the caller to add parameters to.
func MySQL(tb testing.TB, prefix string) (name string, dsn *mysql.Config) {
	tb.Helper()
	cfg, err := mysql.ParseDSN(MySQLServer())
	if err != nil {
		tb.Fatal(err)
	}
	admin := open(tb, "mysql", cfg.FormatDSN(), "MariaDB/MySQL")
	name = prefix + "_" + RandHex(6)
	if _, err := admin.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4"); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if _, err := admin.Exec("DROP DATABASE IF EXISTS " + name); err != nil {
			tb.Errorf("drop test database: %v", err)
		}
	})
	cfg.DBName = name
	return name, cfg
}

// open connects to a test server, closed when the test ends; a server
// that does not answer skips the test, or fails it under CI.
func open(tb testing.TB, driver, dsn, what string) *sql.DB {
	tb.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		testenv.SkipOrFail(tb, "%s not reachable: %v", what, err)
	}
	return db
}
