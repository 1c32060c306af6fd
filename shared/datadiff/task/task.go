// Package task maps the wire contract's diff tasks (events.DiffTask) to
// the diff engine's Spec, and the engine's errors to events.Error, so a
// differ worker is a thin loop around Source.Diff.
package task

import (
	"errors"
	"fmt"
	"sort"

	"github.com/diffgate/diffgate/shared/datadiff"
	"github.com/diffgate/diffgate/shared/events"
)

// Spec returns the engine's spec for a diff task. A task whose Prod is
// nil is a new model. Tolerances that do not parse are an error naming
// the column.
func Spec(t events.DiffTask) (datadiff.Spec, error) {
	o := t.Options
	spec := datadiff.Spec{
		Key:        append([]string(nil), t.Key...),
		Include:    append([]string(nil), o.IncludeColumns...),
		Exclude:    append([]string(nil), o.ExcludeColumns...),
		Filter:     o.Filter,
		SampleSize: o.SampleSize,
		SamplesOff: o.SamplesOff,
	}
	pr, err := side(t.PR, o.PRTimeTravel, "PR")
	if err != nil {
		return spec, err
	}
	spec.PR = pr
	if t.Prod != nil {
		prod, err := side(*t.Prod, o.ProdTimeTravel, "production")
		if err != nil {
			return spec, err
		}
		spec.Prod = &prod
	}
	if len(o.Tolerance) > 0 {
		cols := make([]string, 0, len(o.Tolerance))
		for c := range o.Tolerance {
			cols = append(cols, c)
		}
		sort.Strings(cols)
		spec.Tolerance = make(map[string]datadiff.Tolerance, len(cols))
		for _, c := range cols {
			tol, err := datadiff.ParseTolerance(o.Tolerance[c])
			if err != nil {
				return spec, fmt.Errorf("column %s: %w", c, err)
			}
			spec.Tolerance[c] = tol
		}
	}
	return spec, nil
}

func side(s events.DiffSide, timeTravel, name string) (datadiff.Side, error) {
	switch {
	case s.Relation != nil && s.Query != "":
		return datadiff.Side{}, fmt.Errorf("the %s side has both a relation and a query: %w", name, datadiff.ErrBadSpec)
	case s.Relation != nil:
		r := s.Relation.Datadiff()
		return datadiff.Side{Relation: &r, TimeTravel: timeTravel}, nil
	case s.Query != "":
		return datadiff.Side{Query: s.Query, TimeTravel: timeTravel}, nil
	}
	return datadiff.Side{}, fmt.Errorf("the %s side has neither a relation nor a query: %w", name, datadiff.ErrBadSpec)
}

// Error turns an error from Spec or Diff into the error a diff result
// carries: a stable code, what happened, and what to do about it.
func Error(err error) *events.Error {
	if err == nil {
		return nil
	}
	e := &events.Error{Code: datadiff.Code(err), Message: err.Error(), Hint: datadiff.Hint(err)}
	var de *datadiff.Error
	if errors.As(err, &de) {
		e.Message = de.Msg
		if de.Err != nil {
			e.Message += ": " + de.Err.Error()
		}
	}
	return e
}
