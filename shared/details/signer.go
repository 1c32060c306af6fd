package details

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/diffgate/diffgate/shared/config"
)

// Prefix is the path the details pages are served under; the apps mount
// the Handler there.
const Prefix = "/details/"

// DefaultLinkTTL is how long a link stays valid (server.details_ttl). It
// outlives the reports (DefaultRetention) on purpose: an old link then
// explains that the report expired instead of answering 404.
const DefaultLinkTTL = config.DefaultDetailsTTL

// MinSecretLen is the shortest signing secret accepted.
const MinSecretLen = 16

// ErrWeakSecret is returned for a signing secret shorter than MinSecretLen.
var ErrWeakSecret = errors.New("details: the link signing secret (server.details_secret) must be at least 16 bytes; use 32 random ones")

// tokenPurpose separates these MACs from any other use of the secret.
const tokenPurpose = "diffgate details link v1"

// Signer makes and checks the tokens that let a link open a run's pages.
// A token is bound to one run and carries its expiry: base64url of the
// expiry (8 bytes, Unix seconds) followed by HMAC-SHA256 of the run id and
// the expiry under the server's secret.
type Signer struct {
	secret []byte
	ttl    time.Duration
}

// NewSigner returns a Signer; ttl 0 means DefaultLinkTTL.
func NewSigner(secret []byte, ttl time.Duration) (*Signer, error) {
	if len(secret) < MinSecretLen {
		return nil, ErrWeakSecret
	}
	if ttl < 0 {
		return nil, fmt.Errorf("details: link TTL %v is negative", ttl)
	}
	if ttl == 0 {
		ttl = DefaultLinkTTL
	}
	return &Signer{secret: append([]byte(nil), secret...), ttl: ttl}, nil
}

// TTL is how long a link stays valid.
func (s *Signer) TTL() time.Duration { return s.ttl }

// Token returns a token for runID, valid from now for the TTL.
func (s *Signer) Token(runID string, now time.Time) string {
	exp := now.Add(s.ttl).Unix()
	buf := make([]byte, 8, 8+sha256.Size)
	binary.BigEndian.PutUint64(buf, uint64(exp))
	buf = append(buf, s.mac(runID, exp)...)
	return base64.RawURLEncoding.EncodeToString(buf)
}

func (s *Signer) mac(runID string, exp int64) []byte {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(tokenPurpose))
	m.Write([]byte{0})
	m.Write([]byte(runID))
	m.Write([]byte{0})
	var e [8]byte
	binary.BigEndian.PutUint64(e[:], uint64(exp))
	m.Write(e[:])
	return m.Sum(nil)
}

// Verify checks a token for runID at now. It returns when the token was
// issued (its expiry less the TTL) and whether it is valid: made with this
// secret, for this run, and not expired.
func (s *Signer) Verify(runID, token string, now time.Time) (issued time.Time, ok bool) {
	raw, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(raw) != 8+sha256.Size {
		return time.Time{}, false
	}
	exp := int64(binary.BigEndian.Uint64(raw[:8]))
	if !hmac.Equal(raw[8:], s.mac(runID, exp)) {
		return time.Time{}, false
	}
	expiry := time.Unix(exp, 0)
	if !now.Before(expiry) {
		return time.Time{}, false
	}
	return expiry.Add(-s.ttl), true
}

// URL is the link to a run's page (modelID "") or to one model's page,
// under publicURL (the server's public base URL), valid from now for the
// TTL.
func (s *Signer) URL(publicURL, runID, modelID string, now time.Time) string {
	return pageURL(publicURL, runID, modelID, s.Token(runID, now))
}

// ModelURLs returns a function giving each model's link of one run, all
// sharing one token (report.Options.ModelURL takes it).
func (s *Signer) ModelURLs(publicURL, runID string, now time.Time) func(modelID string) string {
	tok := s.Token(runID, now)
	return func(modelID string) string { return pageURL(publicURL, runID, modelID, tok) }
}

func pageURL(publicURL, runID, modelID, token string) string {
	return strings.TrimRight(publicURL, "/") + pagePath(runID, modelID, token)
}

// pagePath is the path and query of a page; the pages link to each other
// with it.
func pagePath(runID, modelID, token string) string {
	p := Prefix + url.PathEscape(runID)
	if modelID != "" {
		p += "/models/" + url.PathEscape(modelID)
	}
	return p + "?t=" + url.QueryEscape(token)
}
