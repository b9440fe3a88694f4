// Package retrybody tells whether a request body was ever read: only a body no attempt has
// read may go to another upstream after a failure (bytes read so far cannot be sent again).
package retrybody

import "io"

// Body wraps a request body for attempts at several upstreams.
type Body struct {
	r       io.Reader
	touched bool
}

// New wraps r.
func New(r io.Reader) *Body { return &Body{r: r} }

func (b *Body) Read(p []byte) (int, error) {
	b.touched = true
	return b.r.Read(p)
}

// Close does nothing: closing the real body is left to the server (a failed attempt's
// transport closes its request body, and the next attempt needs it).
func (b *Body) Close() error { return nil }

// Touched reports whether any attempt read from the body.
func (b *Body) Touched() bool { return b.touched }
