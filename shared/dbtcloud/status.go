package dbtcloud

import "strconv"

// RunStatus is a dbt Cloud run status code (API v2).
type RunStatus int

// Run status codes. A run moves from queued through starting and running
// to exactly one of success, error or cancelled.
const (
	StatusQueued    RunStatus = 1
	StatusStarting  RunStatus = 2
	StatusRunning   RunStatus = 3
	StatusSuccess   RunStatus = 10
	StatusError     RunStatus = 20
	StatusCancelled RunStatus = 30
)

// String names the status the way dbt Cloud's status_humanized does.
func (s RunStatus) String() string {
	switch s {
	case StatusQueued:
		return "Queued"
	case StatusStarting:
		return "Starting"
	case StatusRunning:
		return "Running"
	case StatusSuccess:
		return "Success"
	case StatusError:
		return "Error"
	case StatusCancelled:
		return "Cancelled"
	}
	return "Unknown (" + strconv.Itoa(int(s)) + ")"
}

// Valid reports whether s is one of the six documented codes.
func (s RunStatus) Valid() bool {
	switch s {
	case StatusQueued, StatusStarting, StatusRunning, StatusSuccess, StatusError, StatusCancelled:
		return true
	}
	return false
}

// Done reports whether the run has finished (success, error or cancelled).
func (s RunStatus) Done() bool {
	return s == StatusSuccess || s == StatusError || s == StatusCancelled
}

// InProgress reports whether the run is queued, starting or running.
func (s RunStatus) InProgress() bool {
	return s == StatusQueued || s == StatusStarting || s == StatusRunning
}

// statusFromText maps the webhook's runStatus text to a code, for payloads
// older than runStatusCode.
func statusFromText(s string) RunStatus {
	switch s {
	case "Queued":
		return StatusQueued
	case "Starting":
		return StatusStarting
	case "Running":
		return StatusRunning
	case "Success", "Succeeded":
		return StatusSuccess
	case "Error", "Errored", "Failed":
		return StatusError
	case "Cancelled", "Canceled":
		return StatusCancelled
	}
	return 0
}
