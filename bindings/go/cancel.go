package eqops

import (
	"runtime"

	"eqops/internal/raw"
)

// CancelToken stops the calls that were given it: set it as the Cancel field of an options
// struct (K8sOptions, AWSOptions, PGOptions: every request of that client; WriteOptions,
// WatchOptions, MigrateOptions, TenantRunOptions, ReportOptions: that call). Trigger, from any
// goroutine, makes such a call stop at its next check (between steps, inside a transfer or a
// query, in a wait between retries) and return an *Error with CodeCanceled. It stays
// triggered until Reset. Tie it to a context.Context with context.AfterFunc(ctx, t.Trigger).
// Close it (or let the finalizer) only once no client or call uses it: a client made with it
// keeps it alive.
type CancelToken struct {
	owned[raw.Struct_SS_eqops_cancel]
}

// NewCancelToken makes a token, not triggered.
func NewCancelToken() (*CancelToken, error) {
	var h raw.Struct_SS_eqops_cancel
	if err := call(func(e raw.Eqops_error) int {
		h = raw.Eqops_bind_cancel_new(e)
		return e.GetCode()
	}); err != nil {
		return nil, err
	}
	t := &CancelToken{}
	t.set(h)
	runtime.SetFinalizer(t, (*CancelToken).Close)
	return t, nil
}

// Trigger cancels: safe from any goroutine, idempotent. A nil or closed token is left alone.
func (t *CancelToken) Trigger() {
	if t == nil {
		return
	}
	_ = t.use("CancelToken", "closed", func(h raw.Struct_SS_eqops_cancel) error {
		raw.Eqops_cancel_trigger(h)
		return nil
	})
}

// Triggered reports whether the token was triggered (and not reset since); false for nil.
func (t *CancelToken) Triggered() bool {
	if t == nil {
		return false
	}
	on := false
	_ = t.use("CancelToken", "closed", func(h raw.Struct_SS_eqops_cancel) error {
		on = raw.Eqops_cancel_triggered(h) != 0
		return nil
	})
	return on
}

// Reset makes the token untriggered again, for reuse once no call uses it.
func (t *CancelToken) Reset() {
	if t == nil {
		return
	}
	_ = t.use("CancelToken", "closed", func(h raw.Struct_SS_eqops_cancel) error {
		raw.Eqops_cancel_reset(h)
		return nil
	})
}

// Close releases the token.
func (t *CancelToken) Close() {
	t.release(raw.Eqops_cancel_free)
}

// cancelHandle is the C token of t (nil: none), or an error naming `field` when t is closed.
func cancelHandle(t *CancelToken, field string) (raw.Struct_SS_eqops_cancel, error) {
	var h raw.Struct_SS_eqops_cancel
	if t == nil {
		return h, nil
	}
	err := t.use(field, "the CancelToken is closed", func(th raw.Struct_SS_eqops_cancel) error {
		h = th
		return nil
	})
	return h, err
}
