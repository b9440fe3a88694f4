package filemesh

import (
	"context"
	"errors"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Every filemesh error is a gRPC status whose details hold a google.rpc.ErrorInfo (domain
// "filemesh", a stable REASON such as FILE_NOT_FOUND); status.Code(err) gives the code.

// Reason is the ErrorInfo reason of err ("" when err carries none).
func Reason(err error) string { return ErrorInfo(err).GetReason() }

// ErrorInfo is the google.rpc.ErrorInfo detail of err, or nil.
func ErrorInfo(err error) *errdetails.ErrorInfo {
	st, ok := status.FromError(err)
	if !ok {
		return nil
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info
		}
	}
	return nil
}

// RetryDelay is the google.rpc.RetryInfo delay of err, if the server sent one.
func RetryDelay(err error) (time.Duration, bool) {
	st, ok := status.FromError(err)
	if !ok {
		return 0, false
	}
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
			return ri.GetRetryDelay().AsDuration(), true
		}
	}
	return 0, false
}

// retrier decides whether a failed transfer attempt may be retried and waits before it.
type retrier struct {
	max, failures int
	refreshed     bool
	renewals      int // transfer tickets replaced as expired since the last progress
}

// Reasons after which a resumed upload simply asks the server where it stands again: an
// earlier, cut stream may still be storing its last part.
var resyncReasons = map[string]bool{"WRONG_OFFSET": true, "CONCURRENT_WRITE": true}

// again reports whether to retry after err (waiting first), and whether the token must be
// refreshed before (once per transfer).
func (r *retrier) again(ctx context.Context, err error) (retry, refresh bool) {
	if ctx.Err() != nil || r.failures >= r.max {
		return false, false
	}
	code := status.Code(err)
	switch {
	case code == codes.Unauthenticated && !r.refreshed:
		r.refreshed = true
		return true, true
	case code == codes.Unavailable, code == codes.Aborted, code == codes.Canceled,
		code == codes.Internal && ErrorInfo(err) == nil, // a transport failure, not a server answer
		code == codes.ResourceExhausted && hasRetryInfo(err),
		code == codes.FailedPrecondition && resyncReasons[Reason(err)]:
	default:
		return false, false
	}
	delay := 100 * time.Millisecond << min(r.failures, 5)
	if d, ok := RetryDelay(err); ok {
		delay = d
	}
	r.failures++
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false, false
	case <-t.C:
		return true, false
	}
}

// progressed resets the failure count: only consecutive failures without progress count.
func (r *retrier) progressed() { r.failures, r.renewals = 0, 0 }

// renew reports whether a transfer ticket that expires at `expire` must be replaced after err
// (expired, about to, or refused as expired), at once and without waiting; at most max times
// without progress, so a server whose clock runs ahead of ours cannot loop a transfer forever.
func (r *retrier) renew(expire time.Time, err error) bool {
	if !stale(expire, err) || r.renewals >= r.max {
		return false
	}
	r.renewals++
	return true
}

func hasRetryInfo(err error) bool { _, ok := RetryDelay(err); return ok }

// errNoProgress guards against a server that keeps answering without moving forward.
var errNoProgress = errors.New("filemesh: the server made no progress")
