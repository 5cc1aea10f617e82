"""The exception hierarchy for libeqops errors (one class per EQOPS_E* code)."""


class Error(Exception):
    """A libeqops failure. Attributes mirror the C eqops_error."""

    code = None  # the EQOPS_E* number of this class (None on the base class)

    def __init__(self, message, *, code=None, http_status=0, reason="", field="",
                 retry_after=0.0, body=None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.http_status = http_status
        self.reason = reason
        self.field = field
        self.retry_after = retry_after
        self.body = body

    @property
    def code_name(self):
        from . import raw
        return raw.eqops_code_name(self.code) if self.code is not None else "EQOPS_EUNKNOWN"

    def __str__(self):
        return self.message + (" (%s)" % self.reason if self.reason else "")


class InvalidArgument(Error, ValueError):
    code = -1


class NoMemory(Error, MemoryError):
    code = -2


class NotFound(Error, LookupError):
    code = -3


class AlreadyExists(Error):
    code = -4


class Conflict(Error):
    code = -5


class Unauthenticated(Error):
    code = -6


class Forbidden(Error, PermissionError):
    code = -7


class Timeout(Error, TimeoutError):
    code = -8


class Unavailable(Error, ConnectionError):
    code = -9


class IOFailure(Error, OSError):
    code = -10


class TLSError(Error):
    code = -11


class TooBig(Error):
    code = -12


class ProtocolError(Error):
    code = -13


class Canceled(Error):
    code = -14


class Busy(Error):
    code = -15


class Gone(Error):
    code = -16


class RateLimited(Error):
    code = -17


class NotSupported(Error, NotImplementedError):
    code = -18


class InternalError(Error):
    code = -19


_BY_CODE = {cls.code: cls for cls in Error.__subclasses__()}


def from_error(code, message, http_status, reason, field, retry_after, body):
    """Build the exception for a C eqops_error (called by the SWIG layer)."""
    cls = _BY_CODE.get(code, Error)
    return cls(message, code=code, http_status=http_status, reason=reason, field=field,
               retry_after=retry_after, body=body)
