package publish

import (
	"context"

	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/gate"
	"github.com/diffgate/diffgate/shared/service"
)

// App is what a provider's app hands to Components: its side of the VCS,
// as the gate and the publisher call it.
type App struct {
	Provider events.Provider
	Files    gate.Files
	Lookup   gate.PRLookup // optional
	Bases    gate.Bases    // optional
	Target   Target
}

// Components mounts the details pages on env's server (once per process)
// and returns the provider's two components: the gate, reading its
// webhook events, and the publisher, showing its runs with signed details
// links.
func Components(ctx context.Context, env *service.Env, a App) ([]service.Component, error) {
	signer, err := Signer(ctx, env.Config)
	if err != nil {
		return nil, err
	}
	if err := MountDetails(ctx, env, signer); err != nil {
		return nil, err
	}
	g, err := gate.New(gate.Options{Provider: a.Provider, Bus: env.Bus, Config: env.Config,
		Files: a.Files, Lookup: a.Lookup, Bases: a.Bases})
	if err != nil {
		return nil, err
	}
	p, err := New(Options{Provider: a.Provider, Bus: env.Bus, Target: a.Target, Signer: signer, PublicURL: env.PublicURL})
	if err != nil {
		return nil, err
	}
	return []service.Component{g, p}, nil
}
