package githubtest

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// The values GitHub accepts for a check run written by an App. (GitHub
// itself also sets status waiting/requested/pending for Actions and the
// conclusion stale; an App may not.)
var (
	checkStatuses    = []string{"queued", "in_progress", "completed"}
	checkConclusions = []string{"success", "failure", "neutral", "cancelled", "skipped", "timed_out", "action_required"}
	annotationLevels = []string{"notice", "warning", "failure"}
	sha40            = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

// ErrInvalidBody is wrapped by every validation error.
var ErrInvalidBody = errors.New("invalid body")

type problems []string

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrInvalidBody, strings.Join(p, "; "))
}

// ValidateCheckRun checks a create (POST) or update (PATCH) check run
// body against the rules of GitHub's Checks API.
func ValidateCheckRun(body map[string]any, create bool) error {
	var p problems
	allowed := []string{"name", "details_url", "external_id", "status", "started_at", "conclusion", "completed_at", "output", "actions"}
	if create {
		allowed = append(allowed, "head_sha")
	}
	unknown(&p, "", body, allowed)

	name, hasName := body["name"]
	if create || hasName {
		if s, ok := name.(string); !ok || strings.TrimSpace(s) == "" {
			p.add("name is required and must be a non-empty string")
		}
	}
	if create {
		if s, ok := body["head_sha"].(string); !ok || !sha40.MatchString(s) {
			p.add("head_sha is required: a 40-character commit SHA, got %v", body["head_sha"])
		}
	}
	status, hasStatus := body["status"]
	if hasStatus {
		if s, ok := status.(string); !ok || !slices.Contains(checkStatuses, s) {
			p.add("status %v is not one of %s", status, strings.Join(checkStatuses, ", "))
		}
	}
	conclusion, hasConclusion := body["conclusion"]
	if hasConclusion {
		if s, ok := conclusion.(string); !ok || !slices.Contains(checkConclusions, s) {
			p.add("conclusion %v is not one of %s", conclusion, strings.Join(checkConclusions, ", "))
		}
		if hasStatus && status != "completed" {
			p.add("conclusion %v with status %v: a conclusion completes the check run", conclusion, status)
		}
	}
	if status == "completed" && !hasConclusion {
		p.add("conclusion is required when status is completed")
	}
	if _, ok := body["completed_at"]; ok && !hasConclusion {
		p.add("completed_at needs a conclusion")
	}
	for _, k := range []string{"started_at", "completed_at"} {
		if v, ok := body[k]; ok {
			if s, ok := v.(string); !ok || !isTime(s) {
				p.add("%s %v is not an ISO 8601 timestamp (YYYY-MM-DDTHH:MM:SSZ)", k, v)
			}
		}
	}
	if v, ok := body["details_url"]; ok {
		if s, ok := v.(string); !ok || !isHTTPURL(s) {
			p.add("details_url %v is not an http(s) URL", v)
		}
	}
	if v, ok := body["external_id"]; ok {
		if _, ok := v.(string); !ok {
			p.add("external_id must be a string")
		}
	}
	if v, ok := body["output"]; ok {
		validateOutput(&p, v)
	}
	if v, ok := body["actions"]; ok {
		validateActions(&p, v)
	}
	return p.err()
}

func validateOutput(p *problems, v any) {
	out, ok := v.(map[string]any)
	if !ok {
		p.add("output must be an object")
		return
	}
	unknown(p, "output.", out, []string{"title", "summary", "text", "annotations", "images"})
	for _, k := range []string{"title", "summary"} {
		if s, ok := out[k].(string); !ok || s == "" {
			p.add("output.%s is required", k)
		}
	}
	for _, k := range []string{"summary", "text"} {
		if s, ok := out[k].(string); ok && utf8.RuneCountInString(s) > MaxOutputText {
			p.add("output.%s is %d characters: only %d characters are allowed", k, utf8.RuneCountInString(s), MaxOutputText)
		} else if _, present := out[k]; present && !ok {
			p.add("output.%s must be a string", k)
		}
	}
	if v, ok := out["annotations"]; ok {
		list, ok := v.([]any)
		if !ok {
			p.add("output.annotations must be an array")
			return
		}
		if len(list) > MaxAnnotations {
			p.add("output.annotations has %d entries: at most %d per request", len(list), MaxAnnotations)
		}
		for i, a := range list {
			am, ok := a.(map[string]any)
			if !ok {
				p.add("output.annotations[%d] must be an object", i)
				continue
			}
			for _, k := range []string{"path", "start_line", "end_line", "annotation_level", "message"} {
				if _, ok := am[k]; !ok {
					p.add("output.annotations[%d].%s is required", i, k)
				}
			}
			if l, ok := am["annotation_level"].(string); ok && !slices.Contains(annotationLevels, l) {
				p.add("output.annotations[%d].annotation_level %q is not one of %s", i, l, strings.Join(annotationLevels, ", "))
			}
		}
	}
}

func validateActions(p *problems, v any) {
	list, ok := v.([]any)
	if !ok {
		p.add("actions must be an array")
		return
	}
	if len(list) > 3 {
		p.add("actions has %d entries: at most 3", len(list))
	}
	for i, a := range list {
		am, ok := a.(map[string]any)
		if !ok {
			p.add("actions[%d] must be an object", i)
			continue
		}
		for k, max := range map[string]int{"label": 20, "description": 40, "identifier": 20} {
			s, ok := am[k].(string)
			switch {
			case !ok || s == "":
				p.add("actions[%d].%s is required", i, k)
			case utf8.RuneCountInString(s) > max:
				p.add("actions[%d].%s is over %d characters", i, k, max)
			}
		}
	}
}

// ValidateComment checks an issue comment body (create or edit).
func ValidateComment(body map[string]any) error {
	var p problems
	unknown(&p, "", body, []string{"body"})
	s, ok := body["body"].(string)
	switch {
	case !ok:
		p.add("body is required and must be a string")
	case strings.TrimSpace(s) == "":
		p.add("body cannot be blank")
	case utf8.RuneCountInString(s) > MaxCommentBody:
		p.add("body is too long (maximum is %d characters)", MaxCommentBody)
	}
	return p.err()
}

func unknown(p *problems, prefix string, body map[string]any, allowed []string) {
	var extra []string
	for k := range body {
		if !slices.Contains(allowed, k) {
			extra = append(extra, prefix+k)
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		p.add("%s is not a parameter of this endpoint", k)
	}
}

func isTime(s string) bool {
	_, err := time.Parse(time.RFC3339, s)
	return err == nil
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
