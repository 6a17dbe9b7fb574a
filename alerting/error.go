package alerting

import (
	"errors"
	"fmt"
	"strings"
)

// Error codes. They are part of the public contract: the HTTP layer maps each
// to a status and writes it as "code" in the error body.
const (
	EINVALID     = "invalid"      // the input breaks the schema; Fields says where
	ENOTFOUND    = "not_found"    // no such object (or not visible to the caller)
	ECONFLICT    = "conflict"     // the object changed underneath; retry
	ETOOLARGE    = "too_large"    // the input exceeds a size limit
	EUNAVAILABLE = "unavailable"  // a dependency (NATS, Redis) is unreachable
	EINTERNAL    = "internal"     // a bug or an unexpected failure
	EFORBIDDEN   = "forbidden"    // the caller may not do this
	ERATELIMITED = "rate_limited" // too many requests
)

// FieldProblem names one problem with one field of an input.
type FieldProblem struct {
	Field   string `json:"field"`
	Problem string `json:"problem"`
}

// Error is truceline's application error: a code for programs, a message for
// people and, for invalid input, every problem found.
type Error struct {
	Code    string
	Message string
	Fields  []FieldProblem
	// Cause is the underlying failure, for logs; callers see only Message.
	Cause error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Cause)
	}
	if len(e.Fields) == 0 {
		return fmt.Sprintf("%s: %s", e.Code, e.Message)
	}
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Problem
	}
	return fmt.Sprintf("%s: %s (%s)", e.Code, e.Message, strings.Join(parts, "; "))
}

// Unwrap gives errors.Is and errors.As the cause.
func (e *Error) Unwrap() error { return e.Cause }

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the *Error in err's chain, EINTERNAL for any
// other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	default:
		return EINTERNAL
	}
}

// ErrorMessage returns the message of the *Error in err's chain. Other errors
// get a generic message so internal details never reach a caller.
func ErrorMessage(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Message
	default:
		return "internal error"
	}
}

// ErrorFields returns the field problems of the *Error in err's chain.
func ErrorFields(err error) []FieldProblem {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

// problems collects field problems while validating.
type problems []FieldProblem

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, FieldProblem{Field: field, Problem: fmt.Sprintf(format, args...)})
}

func (p problems) err(what string) error {
	if len(p) == 0 {
		return nil
	}
	return &Error{Code: EINVALID, Message: fmt.Sprintf("%s is invalid: %d problem(s)", what, len(p)), Fields: p}
}
