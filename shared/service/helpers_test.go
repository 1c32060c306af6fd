package service_test

import (
	"testing"

	"github.com/diffgate/diffgate/shared/config"
)

// serviceConfig is the default config with the embedded NATS storing in
// the test's own directory.
func serviceConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.NATS.StoreDir = t.TempDir()
	return cfg
}
