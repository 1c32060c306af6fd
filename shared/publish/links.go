package publish

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"

	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/shared/config"
	"github.com/diffgate/diffgate/shared/details"
	"github.com/diffgate/diffgate/shared/service"
)

var (
	processKeyOnce sync.Once
	processKey     []byte
)

// Signer returns the details-link signer of cfg: keyed by
// server.details_secret, or, when that is empty, by a random key made
// once per process, so that both apps of one process make links the one
// mounted details handler accepts (and links stop working on restart, as
// the config reference says).
func Signer(ctx context.Context, cfg *config.Config) (*details.Signer, error) {
	secret := []byte(cfg.Server.DetailsSecret.Value())
	if len(secret) == 0 {
		processKeyOnce.Do(func() {
			processKey = make([]byte, 32)
			_, _ = rand.Read(processKey)
			zerolog.Ctx(ctx).Warn().Msg("server.details_secret is not set: details links are signed with a random key and stop working when this process restarts")
		})
		secret = processKey
	}
	s, err := details.NewSigner(secret, cfg.Server.DetailsTTL.D())
	if err != nil {
		return nil, fmt.Errorf("server.details_secret: %w", err)
	}
	return s, nil
}

// MountDetails serves the details pages under details.Prefix on env's
// server, once per process whichever app asks first.
func MountDetails(ctx context.Context, env *service.Env, signer *details.Signer) error {
	objs, err := env.Bus.Objects(ctx)
	if err != nil {
		return err
	}
	var secrets []string
	for _, s := range env.Config.Secrets() {
		if s.IsSet() {
			secrets = append(secrets, s.Value())
		}
	}
	env.MountOnce(details.Prefix, details.NewHandler(details.NewObjectStore(objs), signer,
		details.Options{Retention: env.Config.Server.Retention.D(), Secrets: secrets}))
	return nil
}
