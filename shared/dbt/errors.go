package dbt

import "errors"

// Errors returned by Read. They are wrapped with details (the field, the
// offset, the version found); test with errors.Is.
var (
	// ErrEmpty: the input holds no JSON at all.
	ErrEmpty = errors.New("the manifest is empty")
	// ErrTooLarge: the input is longer than ReadOptions.MaxBytes.
	ErrTooLarge = errors.New("the manifest is larger than the size limit")
	// ErrSyntax: the input is not valid JSON (often a truncated download).
	ErrSyntax = errors.New("the manifest is not valid JSON")
	// ErrInvalid: valid JSON that is not shaped like a dbt manifest (a field
	// of the wrong type, a missing section).
	ErrInvalid = errors.New("the manifest is not a valid dbt manifest")
	// ErrUnsupportedVersion: a manifest schema version outside v4 to v12.
	ErrUnsupportedVersion = errors.New("unsupported manifest schema version")
)
