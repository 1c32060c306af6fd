package datadiff

import (
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// scanOne reads the single row of an aggregate statement.
func scanOne(r *sql.Rows, dest ...any) error {
	if !r.Next() {
		if err := r.Err(); err != nil {
			return err
		}
		return errors.New("the statement returned no row")
	}
	return r.Scan(dest...)
}

// intScan scans any integer-valued column (drivers return counts and sums
// as int64, int32, decimal text or big integers); NULL reads as 0.
type intScan int64

func (n *intScan) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*n = 0
	case int64:
		*n = intScan(v)
	case int32:
		*n = intScan(v)
	case int16:
		*n = intScan(v)
	case int8:
		*n = intScan(v)
	case int:
		*n = intScan(v)
	case uint64:
		*n = intScan(v)
	case uint32:
		*n = intScan(v)
	case uint16:
		*n = intScan(v)
	case uint8:
		*n = intScan(v)
	case float64:
		*n = intScan(v)
	case *big.Int:
		*n = intScan(v.Int64())
	case []byte:
		return n.parse(string(v))
	case string:
		return n.parse(v)
	case fmt.Stringer:
		return n.parse(v.String())
	default:
		return fmt.Errorf("datadiff: cannot read %T as a count", src)
	}
	return nil
}

func (n *intScan) parse(s string) error {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '.'); i >= 0 && strings.Trim(s[i+1:], "0") == "" {
		s = s[:i]
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("datadiff: cannot read %q as a count", s)
	}
	*n = intScan(v)
	return nil
}
