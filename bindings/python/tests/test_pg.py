"""eqops.pg without a server: names, connection errors, secrets kept out of repr. The tests
against a real Postgres are in tests/integration/test_pg.py."""
import pytest

import eqops
from eqops import pg


def test_tenant_names():
    pg.check_tenant_name("acme-power")
    for bad, says in [("Acme", "lowercase"), ("a", "2 to 40"), ("acme;x", "';'"),
                      ("select", "reserved"), ("acmé", "byte 0xc3")]:
        with pytest.raises(eqops.InvalidArgument) as e:
            pg.check_tenant_name(bad)
        assert e.value.field == "name" and says in str(e.value)
        assert isinstance(e.value, ValueError)


def test_connect_errors_do_not_echo_the_conninfo():
    with pytest.raises(eqops.InvalidArgument) as e:
        pg.Cluster("host=x password=hunter2 =")
    assert "hunter2" not in str(e.value) and e.value.field == "conninfo"
    with pytest.raises(eqops.Unavailable):
        pg.Cluster("host=127.0.0.1 port=1 connect_timeout=1", failover_wait=0)
    with pytest.raises(eqops.InvalidArgument) as e:
        pg.Cluster("host=127.0.0.1 port=1", db_prefix="Bad")
    assert e.value.field == "opts.db_prefix"


def test_failover_wait():
    """failover_wait reaches eqops_pg_options.failover_wait_ms: 0 is one attempt, a negative
    or more than an hour is refused naming the field, a short wait is waited out."""
    import datetime
    import time
    nobody = "host=127.0.0.1 port=1 connect_timeout=1"
    with pytest.raises(eqops.Unavailable):
        pg.Cluster(nobody, failover_wait=0)
    for bad in (datetime.timedelta(hours=2), -5):
        with pytest.raises(eqops.InvalidArgument) as e:
            pg.Cluster(nobody, failover_wait=bad)
        assert e.value.field == "opts.failover_wait_ms"
    start = time.monotonic()
    with pytest.raises(eqops.Unavailable):
        pg.Cluster(nobody, failover_wait=datetime.timedelta(seconds=1.2))
    assert time.monotonic() - start >= 1.0


def test_tenant_repr_hides_secrets():
    t = pg.Tenant(name="a", database="tenant_a", role="tenant_a", state="ready", created=True,
                  schema_version=3, size=1, conninfo="password='s3cret'", password="s3cret")
    assert "s3cret" not in repr(t) and "s3cret" not in str(t)


def test_closed_cluster():
    c = pg.Cluster.__new__(pg.Cluster)
    c._h = None
    with pytest.raises(ValueError):
        c.tenants()
    c.close()


def test_connect_timeout_is_seconds():
    """connect_timeout is seconds (int or float), a duration string or a timedelta: against a
    server that accepts the connection and never answers, 2 means about 2 s, not 2 ms."""
    import datetime
    import socket
    import time
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    try:
        dsn = "host=127.0.0.1 port=%d dbname=x" % srv.getsockname()[1]
        for value in (2, 1.5, "2s", datetime.timedelta(seconds=2)):
            t0 = time.monotonic()
            with pytest.raises((eqops.Timeout, eqops.Unavailable)):
                pg.Cluster(dsn, connect_timeout=value, failover_wait=0)
            assert time.monotonic() - t0 >= 1.4, value
    finally:
        srv.close()
