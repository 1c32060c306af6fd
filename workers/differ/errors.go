package differ

import (
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"net/url"
	"regexp"
	"strings"
	"syscall"

	mysqldrv "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/diffgate/diffgate/shared/config"
)

// transient reports whether a diff failed because the warehouse could not
// be reached or was briefly unable to serve (it is restarting, out of
// connections, chose the statement as a deadlock victim): trying again
// later may succeed. Anything else a person must act on, and is a result.
func transient(err error) bool {
	// A database error says what it is; its code decides, whatever
	// network error it may also wrap.
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			strings.HasPrefix(pe.Code, "53"),                           // insufficient resources (too many connections)
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", // shutting down, crashed, starting up
			pe.Code == "40001", pe.Code == "40P01": // serialization failure, deadlock
			return true
		}
		return false
	}
	var me *mysqldrv.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1040, // too many connections
			1053,                   // server shutdown in progress
			1205,                   // lock wait timeout
			1213,                   // deadlock
			1927,                   // connection killed (MariaDB)
			2002, 2003, 2006, 2013: // cannot connect, server gone away, lost connection
			return true
		}
		return false
	}
	var ne net.Error
	switch {
	case errors.As(err, &ne),
		errors.Is(err, driver.ErrBadConn),
		errors.Is(err, mysqldrv.ErrInvalidConn),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE):
		return true
	}
	return false
}

// keyValuePassword finds password=... in a key=value DSN, quoted or not.
var keyValuePassword = regexp.MustCompile(`(?i)(?:^|\s)password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)`)

// dsnSecrets returns the DSN and the password inside it, in every form an
// error could quote them, for config.Redact.
func dsnSecrets(dsn string) []config.Secret {
	if dsn == "" {
		return nil
	}
	vals := []string{dsn}
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		if p, ok := u.User.Password(); ok {
			vals = append(vals, p, url.QueryEscape(p), url.PathEscape(p))
		}
		for _, k := range []string{"password", "passwd"} {
			if p := u.Query().Get(k); p != "" {
				vals = append(vals, p)
			}
		}
	}
	for _, m := range keyValuePassword.FindAllStringSubmatch(dsn, -1) {
		vals = append(vals, m[1], strings.Trim(m[1], "'"))
	}
	if c, err := mysqldrv.ParseDSN(dsn); err == nil && c.Passwd != "" {
		vals = append(vals, c.Passwd)
	}
	out := make([]config.Secret, 0, len(vals))
	for _, v := range vals {
		out = append(out, config.NewSecret(v))
	}
	return out
}
