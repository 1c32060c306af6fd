// Package events is diffgate's wire contract: the subjects, message types,
// message ids and headers that the apps and workers exchange over NATS
// JetStream. It depends on nothing but the standard library and the pure
// result types of the diff engine, so every component can import it.
package events

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Version is the version of every message type in this package. A consumer
// refuses (terminates) a message whose version it does not know.
const Version = 1

// Provider is the VCS a run comes from.
type Provider string

const (
	GitHub Provider = "github"
	GitLab Provider = "gitlab"
)

// Prefix is the message id prefix of a provider's webhook deliveries.
func (p Provider) Prefix() string {
	switch p {
	case GitHub:
		return "gh:"
	case GitLab:
		return "gl:"
	}
	return string(p) + ":"
}

// Valid reports whether p is a known provider.
func (p Provider) Valid() bool { return p == GitHub || p == GitLab }

// Run identifies one diff of one pull request head. The run id is derived
// from Provider, Repository, PR, HeadSHA and Rerun; the other fields travel
// with it because every stage needs them.
type Run struct {
	Provider Provider `json:"provider"`
	// Repository is host/owner/name as in the config, e.g.
	// github.com/acme/analytics or gitlab.com/group/sub/project.
	Repository string `json:"repository"`
	// PR is the pull request number (GitHub) or merge request IID (GitLab).
	PR      int    `json:"pr"`
	HeadSHA string `json:"head_sha"`
	BaseSHA string `json:"base_sha"`
	// Rerun is the delivery id of an explicit "run again" request (the
	// check run's re-run button, a `/diffgate run` note); empty for the
	// first run of a head.
	Rerun string `json:"rerun,omitempty"`

	// Provider details the app needs to publish back.
	Installation int64  `json:"installation,omitempty"` // GitHub App installation id
	ProjectID    int64  `json:"project_id,omitempty"`   // GitLab target project id
	BaseRef      string `json:"base_ref,omitempty"`
	HeadRef      string `json:"head_ref,omitempty"`
	URL          string `json:"url,omitempty"` // the PR's web page
	Title        string `json:"title,omitempty"`
}

// ErrInvalidRun is returned by Run.Validate.
var ErrInvalidRun = errors.New("invalid run identity")

// Validate checks that the identifying fields are present.
func (r Run) Validate() error {
	var missing []string
	if !r.Provider.Valid() {
		missing = append(missing, "provider")
	}
	if r.Repository == "" {
		missing = append(missing, "repository")
	}
	if r.PR <= 0 {
		missing = append(missing, "pr")
	}
	if r.HeadSHA == "" {
		missing = append(missing, "head_sha")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: missing %s", ErrInvalidRun, strings.Join(missing, ", "))
	}
	return nil
}

// ID is the stable run id: the same inputs always give the same id, and it
// is safe as a KV key, an object name and a message id part.
func (r Run) ID() string {
	return "r" + digest(string(r.Provider), r.Repository, strconv.Itoa(r.PR), r.HeadSHA, r.Rerun)
}

// PRKey identifies the pull request, whatever its head: the key of the PR's
// entry in the PRs bucket (current head, closed), used for supersession.
func (r Run) PRKey() string {
	return "p" + digest(string(r.Provider), r.Repository, strconv.Itoa(r.PR))
}

// HeadKey identifies the PR head without the rerun nonce: the check run's
// external_id, so a re-run updates the same check run.
func (r Run) HeadKey() string {
	return "h" + digest(string(r.Provider), r.Repository, strconv.Itoa(r.PR), r.HeadSHA)
}

// ShortSHA is the first 7 characters of the head SHA, for people.
func (r Run) ShortSHA() string { return Short(r.HeadSHA) }

// String is how logs and errors name a run: github.com/acme/x#12@abc1234.
func (r Run) String() string {
	return fmt.Sprintf("%s#%d@%s", r.Repository, r.PR, r.ShortSHA())
}

// Short shortens a commit SHA to 7 characters.
func Short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

func digest(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:24]
}
