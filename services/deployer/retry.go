package deployer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// permanentError marks an error that retrying cannot fix (a bad kubeconfig,
// a kind the cluster does not serve).
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanent(err error) error { return &permanentError{err: err} }

// gaveUpError is returned once a cluster failed RetryLimit times in a row.
type gaveUpError struct {
	attempts int
	err      error
}

func (e *gaveUpError) Error() string {
	return fmt.Sprintf("cluster unreachable after %d attempts: %v", e.attempts, e.err)
}
func (e *gaveUpError) Unwrap() error { return e.err }

// retryable reports whether err means the cluster (or a service on the way
// to it) could not answer now, as opposed to an answer that will not change.
//
//   - API errors: 5xx, 429 and server timeouts are retryable; other 4xx
//     (invalid object, forbidden, not found, conflict) are not.
//   - gRPC errors of the registry and secrets services: Unavailable,
//     DeadlineExceeded, ResourceExhausted and Aborted are retryable.
//   - anything else that is not marked permanent (connection refused,
//     TLS or DNS failures, timeouts, discovery failures) is retryable.
func retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var pe *permanentError
	if errors.As(err, &pe) {
		return false
	}
	var ae apierrors.APIStatus
	if errors.As(err, &ae) {
		code := int(ae.Status().Code)
		switch {
		case apierrors.IsTooManyRequests(err), apierrors.IsServerTimeout(err), apierrors.IsTimeout(err):
			return true
		case code >= http.StatusInternalServerError:
			return true
		case code >= http.StatusBadRequest:
			return false
		}
		return true
	}
	var se interface{ GRPCStatus() *status.Status }
	if errors.As(err, &se) {
		switch se.GRPCStatus().Code() {
		case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted:
			return true
		default:
			return false
		}
	}
	return true
}

// backoff is the wait before the attempt after `failures` failed ones:
// base doubling per failure, capped at max.
func backoff(base, limit time.Duration, failures int) time.Duration {
	d := base
	for i := 1; i < failures && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// maxErrorLen bounds the error messages kept in etcd and shown in status.
const maxErrorLen = 512

// errorText is the message recorded for a failed resource or cluster. For
// sensitive resources (Secrets) only the API reason and the names of the
// fields involved are kept: an API server may quote a rejected value.
func errorText(err error, sensitive bool) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	var pse *projectSecretError
	if sensitive && !errors.As(err, &pse) {
		msg = "apply failed"
		var ae apierrors.APIStatus
		if errors.As(err, &ae) {
			st := ae.Status()
			msg = fmt.Sprintf("apply failed: %s (%d)", st.Reason, st.Code)
			if st.Details != nil {
				var fields []string
				for _, c := range st.Details.Causes {
					if c.Field != "" {
						fields = append(fields, c.Field)
					}
				}
				if len(fields) > 0 {
					msg += ": fields " + strings.Join(fields, ", ")
				}
			}
		}
	}
	if len(msg) > maxErrorLen {
		msg = msg[:maxErrorLen] + "…"
	}
	return msg
}
