package differ

import (
	"net/url"
	"regexp"
	"strings"

	"github.com/diffgate/diffgate/shared/config"
	"github.com/diffgate/diffgate/shared/datadiff/mysql"
)

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
	if c, err := mysql.ParseDSN(dsn); err == nil && c.Passwd != "" {
		vals = append(vals, c.Passwd)
	}
	out := make([]config.Secret, 0, len(vals))
	for _, v := range vals {
		out = append(out, config.NewSecret(v))
	}
	return out
}
