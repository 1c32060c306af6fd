// Package dbt reads dbt manifest.json files (schema v4 to v12) and works out
// what a pull request changes: which nodes are modified, following the rules
// of dbt's state:modified selector, what they affect downstream, and how each
// affected model should be diffed (the relations on both sides, the primary
// key, the per-model options users write in their dbt YAML).
//
// The package is pure: it reads bytes and returns values. Fetching the
// manifests and running the diffs happen elsewhere.
package dbt
