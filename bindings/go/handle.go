package eqops

import "sync"

// owned is what the Go types over a C handle share: one goroutine at a time uses the handle,
// and once released it is refused with an error naming the type.
type owned[T any] struct {
	mu   sync.Mutex
	h    T
	live bool
}

func (o *owned[T]) set(h T) {
	o.h, o.live = h, true
}

// release frees the handle once.
func (o *owned[T]) release(free func(T)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.live {
		free(o.h)
		var zero T
		o.h, o.live = zero, false
	}
}

// use runs fn holding the handle, or fails (naming `field`, saying `closed`) when it is
// released or was never opened.
func (o *owned[T]) use(field, closed string, fn func(h T) error) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.live {
		return &Error{Code: CodeInvalid, Field: field, Message: closed}
	}
	return fn(o.h)
}
