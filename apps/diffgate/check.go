package main

import (
	"context"
	"fmt"
	"io"
)

func cmdCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return fmt.Errorf("not built yet")
}
