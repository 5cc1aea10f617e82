"""One PostgreSQL database and role per client: create, show, rotate, drop, migrate, drift.

    >>> from eqops import pg
    >>> with pg.Cluster("host=db.internal dbname=postgres user=eqops_admin") as cluster:
    ...     t = cluster.create_tenant("acme-power", migrations="migrations/")
    ...     store_secret(t.conninfo)              # the password is returned only once
    ...     result = cluster.migrate("migrations/", canary=2, progress=print)

Connect as a role with CREATEDB and CREATEROLE (no superuser needed); the password is best
kept in PGPASSWORD or ~/.pgpass rather than in the conninfo. Tenant names are 2 to 40 of
a-z, 0-9 and '-', starting with a letter. Results of fleet operations are plain dicts (the
JSON documented in eqops/pg.h). Durations are milliseconds, "5s"-style strings or timedeltas.
"""
import json
from dataclasses import dataclass, field

from . import _cancel
from . import raw as _raw
from ._handle import Owned
from .aws import _ms_of_seconds
from .slo import ms as _ms

__all__ = ["Cluster", "Tenant", "check_tenant_name"]


def check_tenant_name(name):
    """Raise InvalidArgument when `name` breaks the tenant name rule."""
    _raw.eqops_pg_tenant_name_check(name)


@dataclass(frozen=True)
class Tenant:
    """A tenant's facts. `password` and `conninfo` are secrets: they are left out of repr()."""
    name: str
    database: str
    role: str
    state: str
    created: bool
    schema_version: int
    size: int
    conninfo: str = field(repr=False)
    password: str = field(repr=False, default=None)


def _tenant(handle):
    try:
        v = _raw.eqops_pg_tenant_schema_version(handle)
        size = _raw.eqops_pg_tenant_size(handle)
        return Tenant(
            name=_raw.eqops_pg_tenant_name(handle),
            database=_raw.eqops_pg_tenant_database(handle),
            role=_raw.eqops_pg_tenant_role(handle),
            state=_raw.eqops_pg_tenant_state(handle),
            created=bool(_raw.eqops_pg_tenant_created(handle)),
            schema_version=v if v >= 0 else None,
            size=size if size >= 0 else None,
            conninfo=_raw.eqops_pg_tenant_conninfo(handle),
            password=_raw.eqops_pg_tenant_password(handle),
        )
    finally:
        _raw.eqops_pg_tenant_free(handle)


def _lines(items, what):
    if items is None:
        return ""
    if isinstance(items, str):
        items = [items]
    items = list(items)
    for i in items:
        if not isinstance(i, str) or "\n" in i:
            raise TypeError("%s: expected strings without newlines" % what)
    return "\n".join(items)


def _opt_ms(d):
    return 0 if d is None else _ms(d)


class Cluster(Owned):
    """An admin connection to the cluster. Use one Cluster per thread (or lock around it).
    close() (or `with`) closes it."""

    _free = staticmethod(_raw.eqops_pg_free)
    _what = "Cluster"

    def __init__(self, conninfo="", *, connect_timeout=None, statement_timeout=None,
                 lock_timeout=None, max_retries=0, control_db=None, template_db=None,
                 db_prefix=None, failover_wait=None, cancel=None):
        """connect_timeout: seconds (int or float), a duration string or a timedelta, as
        libpq's connect_timeout (default 10 s). failover_wait: how long connecting keeps
        trying while no server takes writes (a failover, a restart): None = 30 s; 0 = one
        attempt only; at most an hour.
        cancel: an eqops.CancelToken every connect, query and retry wait of this Cluster
        checks."""
        wait = 0 if failover_wait is None else _ms(failover_wait)
        if wait == 0 and failover_wait is not None:
            wait = -1
        elif wait < 0:
            wait = -2  # refused by the library, naming opts.failover_wait_ms
        self._cancel = cancel  # the C handle holds it: keep it alive
        self._h = _raw.eqops_bind_pg_new(
            conninfo or "", _ms_of_seconds(connect_timeout), _opt_ms(statement_timeout),
            _opt_ms(lock_timeout), int(max_retries), control_db or "", template_db or "",
            db_prefix or "", wait, _cancel.handle(cancel))

    # ---- tenants ----------------------------------------------------------------------------
    def create_tenant(self, name, *, connection_limit=0, settings=None, password=None,
                      rotate=False, migrations=None):
        """Create a tenant, or finish or converge it; returns a Tenant whose `password` is set
        only when this call set one (a new role, `password` or `rotate`).

        settings: {"statement_timeout": "30s"} or ["statement_timeout=30s"]."""
        if isinstance(settings, dict):
            settings = ["%s=%s" % (k, v) for k, v in settings.items()]
        return _tenant(_raw.eqops_bind_pg_tenant_create(
            self._handle(), name, int(connection_limit), _lines(settings, "settings"),
            password or "", int(bool(rotate)), str(migrations) if migrations else ""))

    def tenant(self, name):
        """The tenant's facts with schema version and size; NotFound when there is none."""
        return _tenant(_raw.eqops_bind_pg_tenant_show(self._handle(), name))

    def rotate(self, name):
        """Set a new random password; the returned Tenant carries it (once)."""
        return _tenant(_raw.eqops_bind_pg_tenant_rotate(self._handle(), name))

    def drop_tenant(self, name, confirm):
        """Drop the tenant's database (ending its sessions) and role; `confirm` == `name`."""
        _raw.eqops_pg_tenant_drop(self._handle(), name, confirm)

    def tenants(self, with_versions=False):
        """Every tenant of the registry as dicts (name, database, role, state, size, ...)."""
        return json.loads(_raw.eqops_pg_tenant_list(self._handle(), int(bool(with_versions))))

    # ---- migrations -------------------------------------------------------------------------
    def ensure_template(self, migrations):
        """Create the template database if needed and bring it to the latest version."""
        _raw.eqops_pg_template_ensure(self._handle(), str(migrations))

    def migrate(self, migrations, *, concurrency=0, canary=0, continue_on_error=False,
                dry_run=False, skip_template=False, tenants=None, lock_wait=None,
                lock_timeout=None, statement_timeout=None, progress=None, cancel=None):
        """Migrate the template and the tenants; returns the per-database results.

        progress(database, status, done, total) runs on this thread as databases finish;
        returning True stops new starts (then eqops.Canceled is raised). An exception in it
        stops the run and is raised here."""
        raised = []

        def guarded(database, status, done, total):
            try:
                return bool(progress(database, status, done, total))
            except BaseException as e:  # re-raised below, after the run stops
                raised.append(e)
                return True

        try:
            out = _raw.eqops_bind_pg_migrate(
                self._handle(), str(migrations), int(concurrency), int(canary),
                int(bool(continue_on_error)), int(bool(dry_run)), int(bool(skip_template)),
                _lines(tenants, "tenants"), _opt_ms(lock_wait), _opt_ms(lock_timeout),
                _opt_ms(statement_timeout), guarded if progress else None,
                _cancel.handle(cancel))
        except Exception:
            if raised:
                raise raised[0]
            raise
        return json.loads(out)

    def validate(self, migrations, database=None):
        """Pending, edited and missing migrations per database (reads only)."""
        return json.loads(_raw.eqops_bind_pg_validate(self._handle(), str(migrations),
                                                      database or ""))

    # ---- drift ------------------------------------------------------------------------------
    def fingerprint(self, database):
        """The catalog fingerprint (hex SHA-256) of a database."""
        return _raw.eqops_pg_fingerprint(self._handle(), database)

    def drift(self, tenants=None):
        """Tenants whose schema or isolation differs from the template, with the objects."""
        return json.loads(_raw.eqops_bind_pg_drift(self._handle(), _lines(tenants, "tenants")))
