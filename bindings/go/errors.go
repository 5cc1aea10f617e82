package eqops

import (
	"fmt"
	"time"

	"eqops/internal/raw"
)

// Code is a libeqops error code (EQOPS_E* in C). The numbers never change.
type Code int

// The error codes of libeqops.
const (
	CodeOK           Code = 0
	CodeInvalid      Code = -1
	CodeNoMemory     Code = -2
	CodeNotFound     Code = -3
	CodeExists       Code = -4
	CodeConflict     Code = -5
	CodeAuth         Code = -6
	CodeForbidden    Code = -7
	CodeTimeout      Code = -8
	CodeUnavailable  Code = -9
	CodeIO           Code = -10
	CodeTLS          Code = -11
	CodeTooBig       Code = -12
	CodeProtocol     Code = -13
	CodeCanceled     Code = -14
	CodeBusy         Code = -15
	CodeGone         Code = -16
	CodeRateLimited  Code = -17
	CodeNotSupported Code = -18
	CodeInternal     Code = -19
)

// String is the symbolic name of the code ("EQOPS_ENOTFOUND").
func (c Code) String() string { return raw.Eqops_code_name(int(c)) }

// Error is a libeqops failure, with the upstream detail the library recorded.
type Error struct {
	Code       Code
	Message    string        // one line, never contains secrets
	HTTPStatus int           // upstream HTTP status, 0 if none
	Reason     string        // upstream reason: Kubernetes Status.reason, AWS error type, SQLSTATE
	Field      string        // the input field at fault, for validation errors
	RetryAfter time.Duration // how long the server asked to wait, 0 if it did not say
	Body       string        // upstream raw body, if any
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "eqops: " + raw.Eqops_strerror(int(e.Code))
	}
	if e.Reason != "" {
		return fmt.Sprintf("eqops: %s (%s)", e.Message, e.Reason)
	}
	return "eqops: " + e.Message
}

// Is makes errors.Is(err, eqops.ErrNotFound) match any error with that code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Code == e.Code
}

// Sentinels for errors.Is.
var (
	ErrInvalid      = &Error{Code: CodeInvalid}
	ErrNoMemory     = &Error{Code: CodeNoMemory}
	ErrNotFound     = &Error{Code: CodeNotFound}
	ErrExists       = &Error{Code: CodeExists}
	ErrConflict     = &Error{Code: CodeConflict}
	ErrAuth         = &Error{Code: CodeAuth}
	ErrForbidden    = &Error{Code: CodeForbidden}
	ErrTimeout      = &Error{Code: CodeTimeout}
	ErrUnavailable  = &Error{Code: CodeUnavailable}
	ErrIO           = &Error{Code: CodeIO}
	ErrTLS          = &Error{Code: CodeTLS}
	ErrTooBig       = &Error{Code: CodeTooBig}
	ErrProtocol     = &Error{Code: CodeProtocol}
	ErrCanceled     = &Error{Code: CodeCanceled}
	ErrBusy         = &Error{Code: CodeBusy}
	ErrGone         = &Error{Code: CodeGone}
	ErrRateLimited  = &Error{Code: CodeRateLimited}
	ErrNotSupported = &Error{Code: CodeNotSupported}
	ErrInternal     = &Error{Code: CodeInternal}
)

// call runs one C call with a fresh eqops_error and turns a negative status into *Error.
func call(fn func(e raw.Eqops_error) int) error {
	e := raw.NewEqops_error()
	defer raw.DeleteEqops_error(e)
	rc := fn(e)
	defer raw.Eqops_error_clear(e)
	if rc >= 0 {
		return nil
	}
	out := &Error{
		Code:       Code(rc),
		Message:    e.GetMessage(),
		HTTPStatus: e.GetHttp_status(),
		Reason:     e.GetReason(),
		Field:      e.GetField(),
		RetryAfter: time.Duration(e.GetRetry_after() * float64(time.Second)),
		Body:       e.GetBody(),
	}
	if out.Message == "" && e.GetCode() == 0 {
		out.Message = raw.Eqops_strerror(rc)
	}
	return out
}
