package hightouchtest

import "github.com/rs/zerolog"

// LogTB reports unexpected requests to a logger instead of failing a test:
// what `diffgate demo` passes to New. It has no Cleanup, so the caller
// closes the server.
type LogTB struct {
	Log zerolog.Logger
}

// Helper does nothing; it exists to satisfy TB.
func (LogTB) Helper() {}

// Errorf logs the unexpected request as an error.
func (l LogTB) Errorf(format string, args ...any) { l.Log.Error().Msgf(format, args...) }
