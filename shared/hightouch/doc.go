// Package hightouch is a client for the Hightouch API (models and sources)
// and the part of impact analysis that finds the Hightouch models reading
// impacted dbt models: it maps each model to the dbt nodes it reads (by
// dbt unique id, by the relations named in its SQL, or by its table) and
// adds the impacted ones, with the queries to diff, to a plan.
package hightouch
