package hightouch_test

import (
	"os"
	"path/filepath"
	"testing"
)

// fixtureDir is a folder of the team's fixtures, found beside the checkout
// (the folder holding go.work). Under CI=true a missing folder fails.
func fixtureDir(t *testing.T, parts ...string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.work not found above the package directory")
		}
		dir = parent
	}
	p := filepath.Join(append([]string{dir, "..", "shared", "fixtures"}, parts...)...)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("fixtures missing: %v", err)
		}
		t.Skipf("fixtures missing: %v", err)
	}
	return p
}

func readFixture(t *testing.T, parts ...string) []byte {
	t.Helper()
	dir := fixtureDir(t, parts[:len(parts)-1]...)
	b, err := os.ReadFile(filepath.Join(dir, parts[len(parts)-1]))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
