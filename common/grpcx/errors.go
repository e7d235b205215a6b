package grpcx

import (
	"context"
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"edgeway.dev/common/store"
)

// errorDomain marks the google.rpc.ErrorInfo detail that names the sentinel,
// so codes shared by several sentinels (FailedPrecondition) map back exactly.
const errorDomain = "edgeway.dev/store"

// internalMessage is all a caller learns about an unexpected error.
const internalMessage = "internal error"

// errorTable is the one mapping between sentinel errors and gRPC codes,
// used by ToStatus and FromStatus.
var errorTable = []struct {
	err    error
	code   codes.Code
	reason string // ErrorInfo.Reason; "" for errors that need none
}{
	{store.ErrNotFound, codes.NotFound, "NOT_FOUND"},
	{store.ErrExists, codes.AlreadyExists, "ALREADY_EXISTS"},
	{store.ErrConflict, codes.Aborted, "CONFLICT"},
	{store.ErrHasChildren, codes.FailedPrecondition, "HAS_CHILDREN"},
	{store.ErrReferenced, codes.FailedPrecondition, "REFERENCED"},
	{store.ErrUnavailable, codes.Unavailable, "UNAVAILABLE"},
	{context.Canceled, codes.Canceled, ""},
	{context.DeadlineExceeded, codes.DeadlineExceeded, ""},
}

// ToStatus translates err into a gRPC status error:
//
//   - an error wrapping a sentinel of the table (store.ErrNotFound, …,
//     context.Canceled, context.DeadlineExceeded) gets its code, with
//     err.Error() as message and the sentinel named in an ErrorInfo detail;
//   - an error that is (or wraps) a gRPC status passes through as that status;
//   - anything else becomes codes.Internal with a generic message: the raw
//     text never reaches the caller (log it yourself, NewServer's
//     interceptor does).
//
// ToStatus(nil) is nil.
func ToStatus(err error) error {
	if err == nil {
		return nil
	}
	for _, m := range errorTable {
		if !errors.Is(err, m.err) {
			continue
		}
		st := status.New(m.code, err.Error())
		if m.reason != "" {
			if withInfo, derr := st.WithDetails(&errdetails.ErrorInfo{Reason: m.reason, Domain: errorDomain}); derr == nil {
				st = withInfo
			}
		}
		return st.Err()
	}
	if st, ok := asStatus(err); ok {
		return st.Err()
	}
	return status.Error(codes.Internal, internalMessage)
}

// asStatus returns the status err is or wraps, without the wrapping text.
func asStatus(err error) (*status.Status, bool) {
	var se interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &se) {
		return nil, false
	}
	st := se.GRPCStatus()
	return st, st != nil
}

// FromStatus translates a gRPC status error back into an error that wraps
// the matching sentinel (errors.Is(err, store.ErrNotFound) holds): its
// Error() is the status message and it still carries the status for
// status.Code. A FailedPrecondition without an Edgeway ErrorInfo detail is
// ambiguous and, like every code not in the table and every non-status
// error, returned as is.
func FromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := asStatus(err)
	if !ok {
		return err
	}
	reason := ""
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == errorDomain {
			reason = info.GetReason()
		}
	}
	var match error
	n := 0
	for _, m := range errorTable {
		if m.code != st.Code() {
			continue
		}
		if reason != "" && m.reason == reason {
			return &statusError{st: st, sentinel: m.err}
		}
		match = m.err
		n++
	}
	if n != 1 {
		return err
	}
	return &statusError{st: st, sentinel: match}
}

// statusError is a received status that wraps its sentinel.
type statusError struct {
	st       *status.Status
	sentinel error
}

func (e *statusError) Error() string              { return e.st.Message() }
func (e *statusError) Unwrap() error              { return e.sentinel }
func (e *statusError) GRPCStatus() *status.Status { return e.st }
