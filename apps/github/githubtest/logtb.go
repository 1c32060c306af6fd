package githubtest

import "github.com/rs/zerolog"

// LogTB reports what the stand-in refuses to a logger instead of failing
// a test: for the demo, which runs the stand-in outside any test.
type LogTB struct {
	Log zerolog.Logger
}

// Helper does nothing; it exists to satisfy TB.
func (LogTB) Helper() {}

// Errorf logs the problem at error level.
func (l LogTB) Errorf(format string, args ...any) { l.Log.Error().Msgf(format, args...) }
