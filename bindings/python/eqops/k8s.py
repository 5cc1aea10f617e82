"""Kubernetes for the platform: kubeconfig, in-cluster and EKS clients, every verb over plain
dicts, server-side apply, and watches that survive restarts.

    >>> from eqops import k8s
    >>> c = k8s.Client(context="prod-eu")                    # kubeconfig, as kubectl reads it
    >>> c.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "acme"}})
    >>> for cm in c.list("v1", "ConfigMap", namespace="acme", label_selector="app=x"):
    ...     print(cm["metadata"]["name"])
    >>> c.watch("v1", "ConfigMap", lambda kind, obj: print(kind, obj["metadata"]["name"]),
    ...         namespace="acme", duration="1m")

Objects go in and come back as dicts (JSON text is accepted too). Failures raise eqops.Error
subclasses carrying the API Status: `reason` (NotFound, Conflict, Forbidden, ...), `field` (the
first cause), `http_status` and the raw `body`. Durations are milliseconds, "30s"-style strings
or timedeltas. See eqops/k8s.h for the rules.
"""
import json
import os

from . import _cancel
from . import _errors
from . import raw as _raw
from ._handle import Owned
from ._handle import lines as _lines
from .slo import ms as _ms

__all__ = ["Client", "contexts"]


def _text(obj):
    return obj if isinstance(obj, str) else json.dumps(obj)


def contexts(kubeconfig=None):
    """The contexts of the merged kubeconfig: {"current", "contexts": [{"name", "cluster",
    "user", "namespace", "server"}]}."""
    return json.loads(_raw.eqops_k8s_contexts(str(kubeconfig) if kubeconfig else None))


class Client(Owned):
    """A client for one cluster. Use one Client per thread (or lock around it); a watch
    callback must not use the Client it runs on (use another one).

    kubeconfig: one path, as kubectl's --kubeconfig (default KUBECONFIG's ':'-separated
    list, ~/.kube/config); qps:
    requests per second (default 50; 0 = no limit); timeouts as durations."""

    _free = staticmethod(_raw.eqops_k8s_free)
    _what = "Client"

    def __init__(self, kubeconfig=None, *, context=None, in_cluster=False, namespace=None,
                 qps=None, burst=0, timeout=None, max_retries=0, exec_timeout=None,
                 field_manager=None, impersonate_user=None, impersonate_groups=(), cancel=None,
                 _handle=None):
        """cancel: an eqops.CancelToken every request of this client checks."""
        if _handle is not None:
            self._h = _handle
            return
        self._cancel = cancel  # the C client holds it: keep it alive
        self._h = _raw.eqops_bind_k8s_new(
            str(kubeconfig or ""), context or "", int(bool(in_cluster)), namespace or "",
            float(-1 if qps == 0 else qps or 0), int(burst), _ms(timeout) if timeout else 0,
            int(max_retries), _ms(exec_timeout) if exec_timeout else 0, field_manager or "",
            impersonate_user or "", _lines(impersonate_groups, "impersonate_groups"),
            _cancel.handle(cancel))

    @classmethod
    def eks(cls, aws_client, cluster, *, namespace=None, qps=None, burst=0, timeout=None,
            max_retries=0, field_manager=None, cancel=None):
        """A client for an EKS cluster: endpoint and CA from DescribeCluster, tokens from the
        eqops.aws.Client (which must stay open while this client is used). cancel: an
        eqops.CancelToken every request of this client checks (the DescribeCluster call is the
        aws client's, which has its own)."""
        h = _raw.eqops_bind_k8s_new_eks(aws_client._handle(), cluster, namespace or "",
                                        float(-1 if qps == 0 else qps or 0), int(burst),
                                        _ms(timeout) if timeout else 0, int(max_retries),
                                        field_manager or "", _cancel.handle(cancel))
        self = cls(_handle=h)
        self._aws = aws_client  # keep it alive
        self._cancel = cancel
        return self

    @property
    def server(self):
        return _raw.eqops_k8s_server(self._handle())

    @property
    def context(self):
        return _raw.eqops_k8s_context(self._handle())

    @property
    def namespace(self):
        """The default namespace."""
        return _raw.eqops_k8s_namespace(self._handle())

    # ---- reading -----------------------------------------------------------------------------
    def get(self, api_version, kind, name, namespace=None):
        """One object (NotFound when there is none)."""
        return json.loads(_raw.eqops_k8s_get(self._handle(), api_version, kind, namespace, name))

    def list(self, api_version, kind, namespace=None, *, label_selector=None,
             field_selector=None, limit=0, all_namespaces=False):
        """Every object (all pages), as a list of dicts."""
        doc = json.loads(_raw.eqops_bind_k8s_list(
            self._handle(), api_version, kind, namespace or "", label_selector or "",
            field_selector or "", int(limit), int(bool(all_namespaces))))
        return doc.get("items") or []

    def pages(self, api_version, kind, namespace=None, *, label_selector=None,
              field_selector=None, limit=500, all_namespaces=False):
        """Yield the list one page (a list document) at a time."""
        p = _raw.eqops_bind_k8s_pager_new(
            self._handle(), api_version, kind, namespace or "", label_selector or "",
            field_selector or "", int(limit), int(bool(all_namespaces)))
        try:
            while True:
                self._handle()  # the pager borrows the client: not after close()
                page = _raw.eqops_k8s_pager_next(p)
                if page is None:
                    return
                yield json.loads(page)
        finally:
            _raw.eqops_k8s_pager_free(p)

    def resource(self, api_version, kind):
        """{"group", "version", "kind", "resource", "namespaced"} from discovery."""
        return json.loads(_raw.eqops_k8s_resource(self._handle(), api_version, kind))

    def request(self, method, path, body=None, content_type=None):
        """A raw request; the answer's body as text."""
        return _raw.eqops_k8s_request(self._handle(), method, path, content_type,
                                      None if body is None else _text(body))

    # ---- writing -----------------------------------------------------------------------------
    def _write(self, verb, obj, dry_run, force, field_manager, concurrency=0, cancel=None):
        return json.loads(_raw.eqops_bind_k8s_write(
            self._handle(), verb, _text(obj), int(bool(dry_run)), int(bool(force)),
            field_manager or "", int(concurrency), _cancel.handle(cancel)))

    def create(self, obj, *, dry_run=False, field_manager=None, cancel=None):
        """Create (AlreadyExists when it exists); the created object. cancel: an
        eqops.CancelToken for this call (instead of the client's)."""
        return self._write("create", obj, dry_run, False, field_manager, 0, cancel)

    def replace(self, obj, *, dry_run=False, field_manager=None, cancel=None):
        """Replace; metadata.resourceVersion, when set, must be current (Conflict)."""
        return self._write("replace", obj, dry_run, False, field_manager, 0, cancel)

    def apply(self, obj, *, force=False, dry_run=False, field_manager=None, cancel=None):
        """Server-side apply (Conflict names the other managers; force=True takes their
        fields)."""
        return self._write("apply", obj, dry_run, force, field_manager, 0, cancel)

    def apply_manifest(self, manifest, *, force=False, dry_run=False, field_manager=None,
                       concurrency=0, cancel=None):
        """Server-side apply of a manifest (JSON or YAML text, several documents, List kinds;
        or a list of dicts): cluster-scoped objects first, `concurrency` at once (default 8).
        The applied objects, in order."""
        if isinstance(manifest, (list, tuple)):
            manifest = json.dumps({"apiVersion": "v1", "kind": "List", "items": list(manifest)})
        return self._write("apply_manifest", manifest, dry_run, force, field_manager,
                           concurrency, cancel)

    def apply_path(self, path, *, recursive=False, force=False, dry_run=False,
                   field_manager=None, concurrency=0, cancel=None):
        """Server-side apply of the manifests at `path` (a str or os.PathLike), as `kubectl
        apply -f PATH [-R]`: a file, or a directory's *.json, *.yaml and *.yml files in name
        order (recursive: its subdirectories' too). Every file is read before anything is
        sent; nothing to apply raises InvalidArgument. The applied objects, in order."""
        return json.loads(_raw.eqops_bind_k8s_apply_path(
            self._handle(), os.fspath(path), int(bool(recursive)), int(bool(dry_run)),
            int(bool(force)), field_manager or "", int(concurrency), _cancel.handle(cancel)))

    def patch(self, api_version, kind, name, merge_patch, namespace=None, *, dry_run=False,
              field_manager=None, cancel=None):
        """JSON merge patch; the patched object. cancel: an eqops.CancelToken for this call."""
        return json.loads(_raw.eqops_bind_k8s_patch(
            self._handle(), api_version, kind, namespace or "", name, _text(merge_patch),
            int(bool(dry_run)), field_manager or "", _cancel.handle(cancel)))

    def delete(self, api_version, kind, name, namespace=None, *, dry_run=False,
               propagation_policy=None, resource_version=None, uid=None, cancel=None):
        """Delete (NotFound when there is none); the server's answer. cancel: an
        eqops.CancelToken for this call."""
        out = _raw.eqops_bind_k8s_delete(
            self._handle(), api_version, kind, namespace or "", name, int(bool(dry_run)),
            propagation_policy or "", resource_version or "", uid or "", _cancel.handle(cancel))
        return json.loads(out) if out else None

    # ---- watching ------------------------------------------------------------------------------
    def watch(self, api_version, kind, callback, namespace=None, *, label_selector=None,
              field_selector=None, all_namespaces=False, resource_version=None,
              bookmarks=False, idle_timeout=None, duration=None, cancel=None):
        """Call callback(type, obj) for every change until it returns True (watch then returns
        False) or `duration` ends (returns True). Without a resource_version the existing
        objects come first, as ADDED. Resumes after drops and restarts; a 410 lists again and
        reports the difference. An exception in the callback stops the watch and is raised."""
        failure = []
        stopped = []  # the callback asked to stop

        def guarded(event_type, text):
            try:
                stop = bool(callback(event_type, json.loads(text)))
            except BaseException as e:  # noqa: B902 - re-raised below
                failure.append(e)
                return True
            if stop:
                stopped.append(True)
            return stop

        try:
            _raw.eqops_bind_k8s_watch(
                self._handle(), api_version, kind, namespace or "", label_selector or "",
                field_selector or "", int(bool(all_namespaces)), resource_version or "",
                int(bool(bookmarks)), _ms(idle_timeout) if idle_timeout else 0,
                _ms(duration) if duration else 0, guarded, _cancel.handle(cancel))
        except _errors.Canceled:
            if failure:
                raise failure[0] from None
            if not stopped:
                raise  # a token (the watch's or the client's), not the callback
            return False
        if failure:
            raise failure[0]
        return True
