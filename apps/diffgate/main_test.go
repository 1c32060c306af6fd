package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// `diffgate help` lists every command, the summaries in one column.
func TestUsageListsEveryCommand(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), []string{"help"}, &out, &out); code != 0 {
		t.Fatalf("help exited %d", code)
	}
	column := -1
	for name, c := range commands() {
		line := ""
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(l, "  "+name+" ") {
				line = l
			}
		}
		at := strings.Index(line, c.summary)
		if line == "" || at < 0 {
			t.Errorf("help does not list %s with its summary:\n%s", name, out.String())
			continue
		}
		if column >= 0 && at != column {
			t.Errorf("%s's summary starts in column %d, another's in %d:\n%s", name, at, column, out.String())
		}
		column = at
	}
}
