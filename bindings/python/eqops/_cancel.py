"""Cancellation tokens: eqops.CancelToken, given as `cancel=` to the clients and calls that
can block."""
from . import raw as _raw
from ._handle import Owned


class CancelToken(Owned):
    """A cancellation token. Pass it as `cancel=` to a client (every request of that client
    checks it) or to one call; trigger() from another thread makes the call stop at its next
    check (between steps, inside a transfer or query, in a wait between
    retries) and raise eqops.Canceled. It stays triggered until reset(). Keep it open while a
    client or call uses it: the objects it is given to hold a reference."""

    _free = staticmethod(_raw.eqops_cancel_free)
    _what = "CancelToken"

    def __init__(self):
        self._h = _raw.eqops_bind_cancel_new()

    def trigger(self):
        """Cancel: thread-safe, idempotent."""
        _raw.eqops_cancel_trigger(self._handle())

    @property
    def triggered(self):
        """True once triggered (until reset)."""
        return bool(_raw.eqops_cancel_triggered(self._handle()))

    def reset(self):
        """Untrigger it for reuse, once no call uses it any more."""
        _raw.eqops_cancel_reset(self._handle())


def handle(token):
    """The C token of `token` (None: none); TypeError for anything but a CancelToken."""
    if token is None:
        return None
    if not isinstance(token, CancelToken):
        raise TypeError("cancel: expected an eqops.CancelToken, not %s" % type(token).__name__)
    return token._handle()
