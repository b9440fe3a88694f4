// Package pathtemplate parses and matches google.api.http path templates:
//
//	Template = "/" Segments [ Verb ] ;  Segments = Segment { "/" Segment } ;
//	Segment  = "*" | "**" | LITERAL | Variable ;  Variable = "{" FieldPath [ "=" Segments ] "}" ;
//	Verb     = ":" LITERAL ;
//
// "**" (alone or inside a variable) must be the last segment.
package pathtemplate

import (
	"fmt"
	"net/url"
	"strings"
)

type kind int

const (
	literal kind = iota
	single       // *
	multi        // **
)

type segment struct {
	kind kind
	lit  string
}

type variable struct {
	field      string // dotted field path
	start, end int    // segment range [start, end)
}

// Template is a parsed path template.
type Template struct {
	raw      string
	segments []segment
	vars     []variable
	verb     string
}

func (t *Template) String() string { return t.raw }

// Parse parses a template such as "/v1/uploads/{upload_id}/parts/{part_number}".
func Parse(raw string) (*Template, error) {
	if !strings.HasPrefix(raw, "/") {
		return nil, fmt.Errorf("template %q must start with /", raw)
	}
	t := &Template{raw: raw}
	rest := raw[1:]
	// The verb is a ":" after the last "/" that is outside braces.
	if i := strings.LastIndexByte(rest, ':'); i >= 0 && !strings.ContainsAny(rest[i:], "/}") {
		t.verb, rest = rest[i+1:], rest[:i]
		if t.verb == "" {
			return nil, fmt.Errorf("template %q has an empty verb", raw)
		}
	}
	for len(rest) > 0 {
		var tok string
		if rest[0] == '{' {
			end := strings.IndexByte(rest, '}')
			if end < 0 {
				return nil, fmt.Errorf("template %q has an unclosed variable", raw)
			}
			tok, rest = rest[:end+1], rest[end+1:]
			if err := t.addVariable(tok[1 : len(tok)-1]); err != nil {
				return nil, fmt.Errorf("template %q: %w", raw, err)
			}
		} else {
			end := strings.IndexByte(rest, '/')
			if end < 0 {
				end = len(rest)
			}
			tok, rest = rest[:end], rest[end:]
			if err := t.addSegment(tok); err != nil {
				return nil, fmt.Errorf("template %q: %w", raw, err)
			}
		}
		if rest != "" {
			if rest[0] != '/' || len(rest) == 1 {
				return nil, fmt.Errorf("template %q: bad separator near %q", raw, rest)
			}
			rest = rest[1:]
		}
	}
	for i, s := range t.segments {
		if s.kind == multi && i != len(t.segments)-1 {
			return nil, fmt.Errorf("template %q: ** must be last", raw)
		}
	}
	return t, nil
}

func (t *Template) addSegment(tok string) error {
	switch {
	case tok == "*":
		t.segments = append(t.segments, segment{kind: single})
	case tok == "**":
		t.segments = append(t.segments, segment{kind: multi})
	case tok == "" || strings.ContainsAny(tok, "{}*"):
		return fmt.Errorf("bad segment %q", tok)
	default:
		t.segments = append(t.segments, segment{kind: literal, lit: tok})
	}
	return nil
}

func (t *Template) addVariable(body string) error {
	field, pattern, hasPattern := strings.Cut(body, "=")
	if field == "" {
		return fmt.Errorf("variable without a field")
	}
	if !hasPattern {
		pattern = "*"
	}
	start := len(t.segments)
	for _, tok := range strings.Split(pattern, "/") {
		if err := t.addSegment(tok); err != nil {
			return err
		}
	}
	t.vars = append(t.vars, variable{field: field, start: start, end: len(t.segments)})
	return nil
}

// Match matches an escaped URL path and returns the variables by field path.
func (t *Template) Match(escapedPath string) (map[string]string, bool) {
	if !strings.HasPrefix(escapedPath, "/") {
		return nil, false
	}
	rest := escapedPath[1:]
	if t.verb != "" {
		if !strings.HasSuffix(rest, ":"+t.verb) {
			return nil, false
		}
		rest = strings.TrimSuffix(rest, ":"+t.verb)
	}
	parts := strings.Split(rest, "/")
	if t.verb == "" && len(t.segments) > 0 && t.segments[len(t.segments)-1].kind == literal &&
		strings.Contains(parts[len(parts)-1], ":") {
		return nil, false // a custom method of another binding
	}
	ends := make([]int, len(t.segments)) // ends[i] = index after the parts segment i consumed
	pi := 0
	for i, s := range t.segments {
		switch s.kind {
		case multi:
			pi = len(parts)
		default:
			if pi >= len(parts) || parts[pi] == "" || (s.kind == literal && parts[pi] != s.lit) {
				return nil, false
			}
			pi++
		}
		ends[i] = pi
	}
	if pi != len(parts) {
		return nil, false
	}
	vars := make(map[string]string, len(t.vars))
	for _, v := range t.vars {
		from := 0
		if v.start > 0 {
			from = ends[v.start-1]
		}
		decoded := make([]string, 0, ends[v.end-1]-from)
		for _, p := range parts[from:ends[v.end-1]] {
			d, err := url.PathUnescape(p)
			if err != nil {
				return nil, false
			}
			decoded = append(decoded, d)
		}
		vars[v.field] = strings.Join(decoded, "/")
	}
	return vars, true
}
