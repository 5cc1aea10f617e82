"""libeqops for Python: the core of the SRE platform (tenants, SLOs, Kubernetes, AWS, Postgres).

    >>> import eqops
    >>> eqops.version()
    '0.2.0'
    >>> eqops.parse_duration("1h30m")
    5400000

Failures raise subclasses of eqops.Error (NotFound, Conflict, InvalidArgument, ...).
"""
import atexit
import logging

from . import raw as _raw
from ._errors import (AlreadyExists, Busy, Canceled, Conflict, Error, Forbidden, Gone,
                      InternalError, InvalidArgument, IOFailure, NoMemory, NotFound, NotSupported,
                      ProtocolError, RateLimited, TLSError, Timeout, TooBig, Unauthenticated,
                      Unavailable)
from ._cancel import CancelToken

__all__ = [
    "version", "version_number", "strerror", "code_name", "parse_duration", "format_duration",
    "set_log_handler", "log_to_logging", "LOG_ERROR", "LOG_WARN", "LOG_INFO", "LOG_DEBUG",
    "LOG_TRACE", "Error", "InvalidArgument", "NoMemory", "NotFound", "AlreadyExists", "Conflict",
    "Unauthenticated", "Forbidden", "Timeout", "Unavailable", "IOFailure", "TLSError", "TooBig",
    "ProtocolError", "Canceled", "Busy", "Gone", "RateLimited", "NotSupported", "InternalError",
    "CancelToken",
]

LOG_NONE = _raw.EQOPS_LOG_NONE
LOG_ERROR = _raw.EQOPS_LOG_ERROR
LOG_WARN = _raw.EQOPS_LOG_WARN
LOG_INFO = _raw.EQOPS_LOG_INFO
LOG_DEBUG = _raw.EQOPS_LOG_DEBUG
LOG_TRACE = _raw.EQOPS_LOG_TRACE

_rc = _raw.eqops_init()
if _rc != 0:
    raise ImportError("libeqops failed to initialise: " + _raw.eqops_strerror(_rc))
atexit.register(_raw.eqops_cleanup)

__version__ = _raw.eqops_version()


def version():
    """The version of the libeqops library in use, "MAJOR.MINOR.PATCH"."""
    return _raw.eqops_version()


def version_number():
    """The library version as one comparable number (0xMMmmpp)."""
    return _raw.eqops_version_number()


def strerror(code):
    """A short description of an EQOPS_E* code."""
    return _raw.eqops_strerror(code)


def code_name(code):
    """The symbolic name of an EQOPS_E* code ("EQOPS_ENOTFOUND")."""
    return _raw.eqops_code_name(code)


def parse_duration(text):
    """Milliseconds in a Prometheus duration ("30d", "1h30m"); InvalidArgument otherwise."""
    return _raw.eqops_duration_parse(text)


def format_duration(ms):
    """The shortest Prometheus duration for a number of milliseconds ("90d", "1h30m")."""
    return _raw.eqops_duration_format(ms)


def set_log_handler(handler, level=LOG_WARN):
    """Send library log lines up to `level` to handler(level, module, message); None stops."""
    _raw.set_log_handler(handler, level)


_TO_LOGGING = {LOG_ERROR: logging.ERROR, LOG_WARN: logging.WARNING, LOG_INFO: logging.INFO,
               LOG_DEBUG: logging.DEBUG, LOG_TRACE: logging.DEBUG}


def log_to_logging(logger=None, level=LOG_INFO):
    """Forward library log lines to a `logging` logger (default: the "eqops" logger)."""
    log = logger or logging.getLogger("eqops")

    def handler(lvl, module, message):
        log.log(_TO_LOGGING.get(lvl, logging.DEBUG), "%s: %s", module, message)

    set_log_handler(handler, level)
