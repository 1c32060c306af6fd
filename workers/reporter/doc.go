// Package reporter is the last stage of the pipeline. It gathers a run's
// diff plan and its per-model diff results, publishes progress ("diffing
// 7/12") on the way, and ends every run that reaches it with exactly one
// report: diffed, cancelled (superseded, closed, CI cancelled) or failed
// (a stage's RunFailed, or a message that exhausted its deliveries).
//
// # Fan-in
//
// The reporter keeps no state in memory. Each run has one entry in the
// diffgate_runs bucket, keyed by run id: the plan's object and task count,
// the set of models that have a result (as short hashes, so that a run of
// tens of thousands of models still fits in one value), and how the run
// ended. Every change is a compare-and-set on the entry's revision,
// retried on conflict, so any number of reporter processes can handle the
// run's messages at once. Each result is its own entry (<run id>.m.<model
// hash>), because a value is limited to the server's max_payload.
//
// Results may arrive before the plan; a result for a model that already
// has one counts once (the first one stays). The run ends when the plan
// has arrived and every task has a result.
//
// # Progress
//
// When the plan arrives the reporter publishes "diffing k/N" (k results
// may have come first), then one RunStatus per new result, or for runs of
// more than 50 tasks one every N/50 results, so that a large run does not
// spend hundreds of API requests on check updates. Each count is published
// by the one handler whose compare-and-set produced it; handlers run in
// parallel, so progress may reach an app out of order (3/12 after 4/12):
// an app shows the highest count it has seen, and nothing after the
// report.
//
// # Ending a run
//
// Ending happens in two steps, each safe to repeat after a crash:
//
//  1. decide: one compare-and-set records how the run ends (and when, and
//     the integration's fail_on_primary_key_issues), unless an ending is
//     already recorded. Before a run is decided as diffed or failed, the
//     PR's current head (diffgate_prs) is read: a run that was superseded
//     or whose PR was closed meanwhile ends cancelled, never with a stale
//     report.
//  2. complete: the report is built from the recorded state alone (so two
//     processes build the same bytes), stored as reports/<run id> unless an
//     identical object is there, published as RunReport (its message id
//     makes a second publish a no-op), and only then marked reported.
//
// A message that finds the run decided but not reported completes it, so a
// process killed between the steps loses nothing. Results, plans and
// failures that arrive after the decision are acknowledged and ignored.
// An ended run id stays ended while its entry lives (the bucket's TTL, 7
// days): diffing the same head again takes a new run id (events.Run.Rerun),
// which the streams' message-id deduplication needs anyway.
//
// # Dead letters
//
// A dead letter of a diff task (or of a diff result this stage could not
// record) becomes that model's error ("the diff of `orders` failed after 10
// attempts: ...") and the run goes on. A dead letter of any other
// pipeline message ends its run as failed, naming the stage. Dead letters
// of progress or report messages (an app that could not post) change
// nothing: the run has its ending already. A dead letter with no run in it
// (a dbt Cloud event, an undecodable body) is logged at error and
// acknowledged. Configured secrets are redacted from a dead letter's error
// and a RunFailed's text before they reach a log or a report.
//
// # Runs that stop progressing
//
// "A check never stays pending forever." Most ways a diff can go wrong
// already end in a result or a dead letter: a differ that fails returns an
// error result or exhausts MaxDeliver (dead letter); a differ that dies
// mid-diff has its task redelivered, and when every delivery died the
// server's MAX_DELIVERIES advisory becomes a dead letter. Two cases are
// not covered: the advisory is a plain NATS message, so it is lost when no
// process of that differ is connected at that moment (all of them
// restarting after a crash on that very task); and a data source whose
// differ is not deployed never delivers its tasks at all. Nothing would
// then end the run.
//
// So a second durable consumer (reporter-watchdog) reads every diff plan
// and keeps it pending with a delayed redelivery (bus.RetryAfter; no
// goroutine sleeps, a restart loses nothing). When it comes back and the
// run has had no new result for Options.StallTimeout (default 3 hours,
// measured from the last result, so long runs that progress are never cut
// short), the run ends with an error for each model still without a result,
// naming the data source whose differ to check. The watchdog holds one
// pending message per run in flight, hence its large MaxAckPending.
package reporter
