package main

import (
	"context"
	"fmt"
	"io"
)

func cmdImpact(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return fmt.Errorf("not built yet")
}
