package dbtcloud_test

import (
	"io"

	"github.com/rs/zerolog"
)

func logger(w io.Writer) *zerolog.Logger {
	l := zerolog.New(w)
	return &l
}
