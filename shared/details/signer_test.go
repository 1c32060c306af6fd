package details

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestSignerTokens(t *testing.T) {
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	s, err := NewSigner(testSecret, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewSigner([]byte(strings.Repeat("x", 40)), 24*time.Hour)
	tok := s.Token("r1", now)
	tampered := []byte(tok)
	tampered[len(tampered)-3] ^= 1
	for _, tc := range []struct {
		name  string
		run   string
		token string
		at    time.Time
		ok    bool
	}{
		{"valid", "r1", tok, now.Add(time.Hour), true},
		{"valid until just before expiry", "r1", tok, now.Add(24*time.Hour - time.Second), true},
		{"expired", "r1", tok, now.Add(24 * time.Hour), false},
		{"another run", "r2", tok, now, false},
		{"another secret", "r1", other.Token("r1", now), now, false},
		{"tampered", "r1", string(tampered), now, false},
		{"missing", "r1", "", now, false},
		{"garbage", "r1", "not a token!", now, false},
		{"truncated", "r1", tok[:20], now, false},
		{"padded", "r1", tok + "==", now, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			issued, ok := s.Verify(tc.run, tc.token, tc.at)
			if ok != tc.ok {
				t.Fatalf("Verify = %v, want %v", ok, tc.ok)
			}
			if ok && !issued.Equal(now) {
				t.Errorf("issued = %v, want %v", issued, now)
			}
		})
	}
}

func TestSignerTokensAreUnguessable(t *testing.T) {
	s := signer(t)
	now := time.Now()
	a, b := s.Token("r1", now), s.Token("r2", now)
	if a == b {
		t.Fatal("two runs got the same token")
	}
	// 8 bytes of expiry and a full SHA-256 MAC.
	if len(a) != 54 {
		t.Errorf("token %q has %d characters, want 54", a, len(a))
	}
}

func TestSignerURL(t *testing.T) {
	s := signer(t)
	now := time.Now()
	u := s.URL("https://diffgate.example.com/", "r1", "model.jaffle.orders", now)
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	if p.Host != "diffgate.example.com" || p.Path != "/details/r1/models/model.jaffle.orders" {
		t.Errorf("URL = %s", u)
	}
	if _, ok := s.Verify("r1", p.Query().Get("t"), now); !ok {
		t.Errorf("the URL's token does not verify")
	}
	run := s.URL("https://diffgate.example.com", "r1", "", now)
	if !strings.HasPrefix(run, "https://diffgate.example.com/details/r1?t=") {
		t.Errorf("run URL = %s", run)
	}
	links := s.ModelURLs("https://diffgate.example.com", "r1", now)
	if got := links("hightouch.acme/9"); !strings.Contains(got, "/details/r1/models/hightouch.acme%2F9?t=") {
		t.Errorf("model link = %s", got)
	}
}

func TestSignerRejectsWeakSecrets(t *testing.T) {
	if _, err := NewSigner([]byte("short"), 0); !errors.Is(err, ErrWeakSecret) {
		t.Errorf("NewSigner(short) = %v, want ErrWeakSecret", err)
	}
	if _, err := NewSigner(testSecret, -time.Second); err == nil {
		t.Errorf("a negative TTL was accepted")
	}
	s, _ := NewSigner(testSecret, 0)
	if s.TTL() != DefaultLinkTTL {
		t.Errorf("TTL = %v, want the default", s.TTL())
	}
}
