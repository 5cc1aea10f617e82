"""The core of the Python binding: version, errors as exceptions, strings, logging."""
import gc
import logging
import threading

import pytest

import eqops
from eqops import raw


def test_version():
    assert eqops.version() == eqops.__version__
    major, minor, patch = (int(x) for x in eqops.version().split("."))
    assert eqops.version_number() == (major << 16) | (minor << 8) | patch


def test_codes_and_names():
    assert eqops.code_name(-3) == "EQOPS_ENOTFOUND"
    assert eqops.strerror(-3) == "not found"
    assert raw.EQOPS_ENOTFOUND == -3
    # every C code has its own exception class
    for code in range(-1, raw.EQOPS_CODE_MIN - 1, -1):
        cls = eqops._errors._BY_CODE[code]
        assert issubclass(cls, eqops.Error)
        assert cls.code == code


def test_duration_round_trip():
    assert eqops.parse_duration("1h30m") == 5_400_000
    assert eqops.parse_duration("30d") == 30 * 86_400_000
    assert eqops.format_duration(90 * 86_400_000) == "90d"
    assert eqops.format_duration(28 * 86_400_000) == "4w"
    assert eqops.format_duration(0) == "0s"


def test_errors_become_exceptions():
    with pytest.raises(eqops.InvalidArgument) as exc:
        eqops.parse_duration("90 days")
    e = exc.value
    assert isinstance(e, ValueError)  # usable with plain Python handlers too
    assert e.code == -1 and e.code_name == "EQOPS_EINVAL"
    assert "duration" in e.message
    assert e.http_status == 0 and e.body is None
    with pytest.raises(eqops.InvalidArgument) as exc:
        eqops.format_duration(-5)
    assert exc.value.field == "ms"


def test_no_leak_across_many_calls():
    # every call frees its C string and error; a leak would show in the sanitizer/valgrind tiers
    for _ in range(20000):
        assert eqops.format_duration(5_400_000) == "1h30m"
        try:
            eqops.parse_duration("x")
        except eqops.InvalidArgument:
            pass
    gc.collect()


def test_log_handler_and_logging(caplog):
    seen = []
    eqops.set_log_handler(lambda lvl, mod, msg: seen.append((lvl, mod, msg)), eqops.LOG_DEBUG)
    try:
        # init logs at debug level when it really initialises
        raw.eqops_cleanup()
        assert raw.eqops_init() == 0
    finally:
        eqops.set_log_handler(None)
    assert any(mod == "core" and "initialised" in msg for _, mod, msg in seen)
    eqops.log_to_logging(level=eqops.LOG_DEBUG)
    with caplog.at_level(logging.DEBUG, logger="eqops"):
        raw.eqops_cleanup()
        raw.eqops_init()
    eqops.set_log_handler(None)
    assert any("initialised" in r.getMessage() for r in caplog.records)


def test_calls_release_the_gil():
    # many threads calling in at once: no deadlock, no crash, consistent results
    results = []

    def work():
        for _ in range(2000):
            results.append(eqops.parse_duration("5m"))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [300_000] * 16000


def test_failing_calls_do_not_leak():
    # the output list gathered before an error must be released with it
    import tracemalloc
    for _ in range(2000):
        try:
            eqops.parse_duration("x")
        except eqops.InvalidArgument:
            pass
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(50000):
        try:
            eqops.parse_duration("x")
        except eqops.InvalidArgument:
            pass
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert grown < 200_000, grown


def test_non_utf8_or_cut_text_never_breaks_the_exception():
    # the message echoes the input and is cut at 255 bytes, possibly inside a character
    with pytest.raises(eqops.InvalidArgument) as exc:
        eqops.parse_duration("a" + "é" * 300)
    assert "duration" in exc.value.message
