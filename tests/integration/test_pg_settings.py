"""A tenant database's own settings (ALTER DATABASE ... SET) against eqops's sessions there:
they do not change what migrations write, how drift compares schemas, or end eqops's sessions
(eqops starts every session with its own settings); settings a tenant database may not have,
made by hand or by an older eqops, are reported by drift and removed by a create."""
import os
import time
import uuid

import pytest

import eqops
from eqops import pg
from conftest import need_env, psql

SETTINGS = {"datestyle": "SQL, DMY", "timezone": "Pacific/Auckland",
            "intervalstyle": "sql_standard", "extra_float_digits": "-15",
            "bytea_output": "escape", "lc_numeric": "C", "work_mem": "1GB",
            "idle_session_timeout": "1", "idle_in_transaction_session_timeout": "1"}
V1 = ("CREATE TABLE effects (d date, dd date DEFAULT '2024-01-31'::date,\n"
      "  t timestamptz DEFAULT '2024-01-31 12:00:00+00'::timestamptz,\n"
      "  i interval DEFAULT '1 day 2 hours'::interval, b bytea DEFAULT '\\x01ff'::bytea);\n")
V2 = ("INSERT INTO effects (d) VALUES ('03/04/2024');\n"
      "SELECT pg_sleep(0.05);\n"  # longer than the database's idle timeouts, between statements
      "INSERT INTO effects (d) VALUES ('2024-05-06');\n")


@pytest.fixture
def cluster():
    """A cluster handle whose tenants, template and control database are the test's own
    (a prefix and names of its own), all dropped after it."""
    dsn, super_dsn = need_env("EQOPS_TEST_PG_ADMIN_DSN", "EQOPS_TEST_PG_SUPER_DSN")
    tag = uuid.uuid4().hex[:8]
    c = pg.Cluster(dsn, db_prefix="st%s_" % tag, template_db="sttpl_" + tag,
                   control_db="stctl_" + tag)
    c.db = lambda name: "st%s_%s" % (tag, name.replace("-", "_"))
    try:
        yield c
    finally:
        for t in c.tenants():
            c.drop_tenant(t["name"], t["name"])
        c.close()
        for db in ("sttpl_" + tag, "stctl_" + tag):
            psql(super_dsn, "ALTER DATABASE %s IS_TEMPLATE false;\nDROP DATABASE %s WITH (FORCE)"
                 % (db, db), db="postgres", check=False)


def idle_kills():
    log, = need_env("EQOPS_TEST_PG_LOG")
    with open(log, errors="replace") as f:
        return sum("idle-session timeout" in line or "idle-in-transaction timeout" in line
                   for line in f)


def test_tenant_settings_do_not_reach_eqops_sessions(cluster, tmp_path, monkeypatch):
    (tmp_path / "V1__effects.sql").write_text(V1)
    cluster.ensure_template(tmp_path)
    cluster.create_tenant("ds-plain", migrations=tmp_path)
    cluster.create_tenant("ds-dmy", settings=SETTINGS, migrations=tmp_path)
    super_dsn, = need_env("EQOPS_TEST_PG_SUPER_DSN")
    # the tenant's own sessions do get them
    assert psql(super_dsn, "SELECT c FROM pg_db_role_setting s JOIN pg_database d ON d.oid = "
                "s.setdatabase, unnest(s.setconfig) c WHERE datname = '%s' AND c LIKE "
                "'DateStyle=%%'" % cluster.db("ds-dmy"), db="postgres") == "DateStyle=SQL, DMY"
    kills = idle_kills()
    (tmp_path / "V2__rows.sql").write_text(V2)
    done = cluster.migrate(tmp_path)
    assert done["failed"] == 0, done
    # the schemas compare equal, defaults included (rendered alike in both sessions)
    drift = cluster.drift()
    assert drift["drifted"] == 0, drift
    assert all(t["isolation"] == "ok" for t in drift["tenants"]), drift
    # no eqops session there was ended by the database's idle timeouts (checked before the
    # test's own sessions there, which the timeouts do reach)
    time.sleep(0.5)
    assert idle_kills() == kills
    # what a migration writes does not depend on the tenant's settings (the test's own
    # session there shields itself from the database's 1 ms idle timeouts)
    monkeypatch.setenv("PGOPTIONS", "-c idle_session_timeout=0")
    for db in (cluster.db("ds-plain"), cluster.db("ds-dmy")):
        assert psql(super_dsn, "SET datestyle = ISO; SELECT string_agg(d::text, ',' ORDER BY d) "
                    "FROM effects", db=db) == "2024-03-04,2024-05-06", db


def test_settings_out_of_bounds_are_refused(cluster):
    for settings, says in (({"work_mem": "100TB"}, "from 64kB to 1GB"),
                           ({"maintenance_work_mem": "8GB"}, "from 1MB to 4GB")):
        with pytest.raises(eqops.InvalidArgument) as e:
            cluster.create_tenant("too-big", settings=settings)
        assert e.value.field == "settings[0]" and says in str(e.value)
    with pytest.raises(eqops.NotFound):
        cluster.tenant("too-big")


def test_refused_settings_a_database_carries_are_reported_and_removed(cluster, tmp_path,
                                                                     monkeypatch):
    """Made by hand or by an eqops before the allow-list: drift says so (instead of
    'isolation ok'), migrations still run as eqops, and a create removes them."""
    (tmp_path / "V1__effects.sql").write_text(V1)
    cluster.ensure_template(tmp_path)
    cluster.create_tenant("ds-hand", settings={"statement_timeout": "30s"},
                          migrations=tmp_path)
    super_dsn, = need_env("EQOPS_TEST_PG_SUPER_DSN")
    hand = cluster.db("ds-hand")
    psql(super_dsn, "ALTER DATABASE {0} SET role = '{0}';\n"
         "ALTER DATABASE {0} SET search_path = 'eqops';\n"
         "ALTER DATABASE {0} SET work_mem = '2GB'".format(hand), db="postgres")
    drift = cluster.drift()
    [t] = drift["tenants"]
    assert drift["drifted"] == 1 and t["isolation"] != "ok", drift
    for name in ("role", "search_path", "work_mem"):
        assert name in t["isolation"], t
    # eqops's own sessions run as eqops, with its search path: a migration still works
    (tmp_path / "V2__rows.sql").write_text(V2)
    done = cluster.migrate(tmp_path)
    assert done["failed"] == 0, done
    # (the test's own session there shields itself from them; eqops's are shielded by eqops)
    monkeypatch.setenv("PGOPTIONS", "-c role=none -c search_path=public")
    assert psql(super_dsn, "SELECT count(*) FROM public.effects", db=hand) == "2"
    assert psql(super_dsn, "SELECT count(*) FROM pg_tables WHERE tablename = 'effects' AND "
                "schemaname <> 'public'", db=hand) == "0"
    monkeypatch.delenv("PGOPTIONS")
    # create converges: the database has the spec's settings, nothing else
    cluster.create_tenant("ds-hand", settings={"statement_timeout": "30s"})
    assert psql(super_dsn, "SELECT string_agg(c, ',' ORDER BY c) FROM pg_db_role_setting s "
                "JOIN pg_database d ON d.oid = s.setdatabase, unnest(s.setconfig) c WHERE "
                "datname = '%s'" % hand, db="postgres") == "statement_timeout=30s"
    drift = cluster.drift()
    assert drift["drifted"] == 0 and drift["tenants"][0]["isolation"] == "ok", drift


def test_a_uri_password_with_an_at_sign_is_not_echoed():
    dsn, = need_env("EQOPS_TEST_PG_ADMIN_DSN")
    port = [p for p in dsn.split() if p.startswith("port=")][0][5:]
    with pytest.raises(eqops.InvalidArgument) as e:
        pg.Cluster("postgresql://eqops_admin:Sup3r@S3cr3t@127.0.0.1:%s/postgres" % port)
    assert "S3cr3t" not in str(e.value) and e.value.field == "conninfo"
    assert os.environ.get("EQOPS_TEST_PG_PORT", port) == port
