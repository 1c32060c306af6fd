package main

import (
	"context"
	"fmt"
	"io"
)

func cmdDiff(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return fmt.Errorf("not built yet")
}
