"""Tenants: onboard, change and offboard a client across Kubernetes clusters, Postgres and AWS
Secrets Manager in one idempotent, resumable operation.

    >>> from eqops import tenant
    >>> with tenant.Env("tiers.yaml", kubeconfig=kubeconfig, pg_conninfo=conninfo) as env:
    ...     env.check(spec)                          # the spec with its defaults; no request
    ...     result = env.apply(spec, progress=print)
    ...     print(result["changed"])                 # a second apply changes nothing
    ...     env.destroy(spec, confirm="acme-power")

A spec is JSON or YAML text, or a dict (docs/tenant.md has the reference). Results are plain
dicts (the JSON documented in eqops/tenant.h) and never hold a secret. An invalid spec raises
eqops.InvalidArgument whose `field` names the field at fault ("clusters[1].eks.region").

progress(tenant, cluster, step, status, done, total) runs on the calling thread as steps start
and end; returning True stops the operation before its next step (then eqops.Canceled is
raised). An exception in it stops the run and is raised by the call. It must not use the Env
it runs under.
"""
import json

from . import _cancel
from . import raw as _raw
from ._handle import Owned
from ._handle import lines as _lines

__all__ = ["Env"]


def _text(spec):
    return spec if isinstance(spec, str) else json.dumps(spec)


def _guarded(progress):
    """The callback given to C (never raising, True stops) and the list of what it raised."""
    raised = []
    if progress is None:
        return None, raised

    def guarded(tenant, cluster, step, status, done, total):
        try:
            return bool(progress(tenant, cluster, step, status, done, total))
        except BaseException as e:  # noqa: B902 - re-raised by _run, after the run stops
            raised.append(e)
            return True

    return guarded, raised


def _run(fn, progress, cancel, *args):
    guarded, raised = _guarded(progress)
    token = _cancel.handle(cancel)
    try:
        out = fn(*args, guarded, token)
    except Exception:
        if raised:
            raise raised[0]
        raise
    if raised:
        raise raised[0]
    return out


class Env(Owned):
    """The connections tenant operations use: kubeconfig, the Postgres admin connection, AWS
    and the tiers. Connects to nothing until an operation needs it. Use one Env per thread (or
    lock around it). close() (or `with`) releases it.

    tiers_file: JSON or YAML, required for everything but list(); kubeconfig: one path
    (default KUBECONFIG's ':'-separated list, ~/.kube/config); pg_conninfo: the admin
    connection, needed when a spec has a database; concurrency: tenants at once in fleet()
    (default 4); the *_ms timeouts are milliseconds, 0 for the defaults of eqops/tenant.h;
    reserved_names: more names no tenant may have (a name, or a prefix ending in "*" like
    "team-*"), added to the built-in ones (kube-*, default, the Argo CD namespace, argocd,
    monitoring, ...: eqops/tenant.h); every operation but destroy refuses a reserved name."""

    _free = staticmethod(_raw.eqops_tenant_env_free)
    _what = "Env"

    def __init__(self, tiers_file=None, kubeconfig=None, pg_conninfo=None, migrations_dir=None,
                 argocd_namespace=None, field_manager=None, aws_profile=None, concurrency=0,
                 lock_wait_ms=0, delete_wait_ms=0, request_timeout_ms=0, pg_db_prefix=None,
                 pg_template_db=None, pg_control_db=None, reserved_names=None):
        if isinstance(reserved_names, str):
            reserved_names = [reserved_names]
        self._h = _raw.eqops_bind_tenant_env_new(
            str(tiers_file or ""), str(kubeconfig or ""), pg_conninfo or "",
            str(migrations_dir or ""), argocd_namespace or "", field_manager or "",
            aws_profile or "", int(concurrency), int(lock_wait_ms), int(delete_wait_ms),
            int(request_timeout_ms), pg_db_prefix or "", pg_template_db or "",
            pg_control_db or "", _lines(reserved_names, "reserved_names"))

    # ---- reading the spec (no request) --------------------------------------------------------
    def check(self, spec):
        """The spec with every default filled in; InvalidArgument naming the field."""
        return json.loads(_raw.eqops_tenant_spec_check(self._handle(), _text(spec)))

    def render(self, spec, cluster=None):
        """The Kubernetes objects for one of the spec's clusters (default: the first), in apply
        order, without the credentials Secret's data."""
        return json.loads(_raw.eqops_bind_tenant_render(self._handle(), _text(spec),
                                                        cluster or ""))

    # ---- one tenant ---------------------------------------------------------------------------
    def _one(self, operation, spec, confirm, rotate_password, cluster_parallel, progress,
             cancel=None):
        out, n = _run(_raw.eqops_bind_tenant_run, progress, cancel, self._handle(), operation,
                      _text(spec), confirm or "", int(bool(rotate_password)),
                      int(cluster_parallel))
        return json.loads(out), n

    def plan(self, spec, progress=None, *, cluster_parallel=0, cancel=None):
        """What apply would do: every object with its action and the fields that differ.
        cancel (every operation): an eqops.CancelToken; once triggered the operation stops
        at its next check and raises eqops.Canceled, leaving what it did for the next run."""
        return self._one("plan", spec, None, False, cluster_parallel, progress, cancel)[0]

    def apply(self, spec, rotate_password=False, cluster_parallel=0, progress=None, *,
              cancel=None):
        """Create or converge everything; a second apply reports "changed": 0.
        rotate_password sets (and stores) a new database password; cluster_parallel: clusters
        at once (0 = all, 1 = one after the other)."""
        return self._one("apply", spec, None, rotate_password, cluster_parallel, progress,
                         cancel)[0]

    def destroy(self, spec, confirm, progress=None, *, cluster_parallel=0, cancel=None):
        """Remove the tenant everywhere (the database is dropped); `confirm` must be its
        name. What is already gone is skipped."""
        return self._one("destroy", spec, confirm, False, cluster_parallel, progress, cancel)[0]

    def drift(self, spec, progress=None, *, cluster_parallel=0, cancel=None):
        """Where the live state differs from the spec: (result, number of drifted actions)."""
        return self._one("drift", spec, None, False, cluster_parallel, progress, cancel)

    def reconcile(self, spec, progress=None, *, cluster_parallel=0, cancel=None):
        """Put the drift back: apply, then the tenant database's pending migrations."""
        return self._one("reconcile", spec, None, False, cluster_parallel, progress, cancel)[0]

    def status(self, spec):
        """The tenant as it is: {"tenant", "health": "healthy"|"degraded"|"absent"|"unknown",
        "clusters", "database"}."""
        return json.loads(_raw.eqops_tenant_status(self._handle(), _text(spec)))

    # ---- every tenant -------------------------------------------------------------------------
    def list(self, contexts=None):
        """Every tenant found by its namespace labels in the kubeconfig contexts (default: the
        current one) and in Postgres, sorted by name."""
        if isinstance(contexts, str):
            contexts = [contexts]
        return json.loads(_raw.eqops_bind_tenant_list(self._handle(),
                                                      _lines(contexts, "contexts")))

    def fleet(self, operation, directory, confirm=None, rotate_password=False, progress=None, *,
              cluster_parallel=0, cancel=None):
        """An operation ("plan", "apply", "destroy", "drift", "reconcile", "status") over every
        spec in a directory, `concurrency` tenants at once; every spec is checked (and
        duplicate names refused) before anything changes. Returns (result, failed): the
        tenants whose operation failed (drift: that drifted). destroy: `confirm` must be the
        directory as given."""
        out, failed = _run(_raw.eqops_bind_tenant_fleet, progress, cancel, self._handle(),
                           operation,
                           str(directory), str(confirm) if confirm is not None else "",
                           int(bool(rotate_password)), int(cluster_parallel))
        return json.loads(out), failed
