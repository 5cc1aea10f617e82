"""AWS for the platform: SigV4 signing, the credential chain, STS, EKS, Secrets Manager, CloudWatch.

    >>> from eqops import aws
    >>> client = aws.Client(region="eu-west-1")          # credentials: the SDKs' default chain
    >>> client.caller_identity()["arn"]
    'arn:aws:sts::123456789012:assumed-role/platform/...'
    >>> token, expires = client.eks_token("prod-eu")   # for a Kubernetes client
    >>> client.put_metrics("Platform/Tenants", [{"name": "Onboarded", "value": 1,
    ...                                           "dimensions": {"Region": "eu-west-1"}}])

The chain, retries, endpoints (AWS_ENDPOINT_URL) and errors are those documented in
eqops/aws.h; failures raise eqops.Error subclasses whose `reason` is the service's error type
("ResourceNotFoundException"). Times are datetimes or milliseconds since the epoch; durations are
seconds, "15m"-style strings or timedeltas. Secret values and secret keys never appear in a
repr().
"""
import datetime
import json
from dataclasses import dataclass, field

from . import _cancel
from . import raw as _raw
from ._handle import Owned
from ._handle import lines as _lines
from .slo import ms as _ms

__all__ = ["Credentials", "Signer", "SignedRequest", "Client"]


def _epoch_ms(t):
    """Milliseconds since the epoch from None (0: now), an int or a datetime."""
    if t is None:
        return 0
    if isinstance(t, bool):
        raise TypeError("a time cannot be a bool")
    if isinstance(t, int):
        return t
    if isinstance(t, datetime.datetime):
        if t.tzinfo is None:
            raise ValueError("time: a naive datetime is ambiguous; give it a time zone")
        return int(t.timestamp() * 1000)
    raise TypeError("time: expected a datetime or milliseconds since the epoch")


def _from_ms(v):
    return datetime.datetime.fromtimestamp(v / 1000, datetime.timezone.utc) if v else None


def _ms_of_seconds(d):
    """Milliseconds from None (0: the default), seconds (int or float), a duration string or a
    timedelta."""
    if d is None:
        return 0
    if isinstance(d, (int, float)) and not isinstance(d, bool):
        return int(d * 1000)
    return _ms(d)


def _seconds(d):
    """Whole seconds from None (0: the default), seconds, a duration string or a timedelta."""
    if d is None:
        return 0
    if isinstance(d, (int, float)) and not isinstance(d, bool):
        return int(d)
    return _ms(d) // 1000


def _doc(text):
    return json.loads(text) if text else None


class Credentials:
    """AWS credentials. `secret_access_key` and `session_token` are secrets: hand them on, never
    print them (repr() leaves them out). The C copy is wiped when the object is collected."""

    def __init__(self, access_key_id, secret_access_key, session_token=None, expiration=None):
        self._h = _raw.eqops_bind_aws_credentials_new(
            access_key_id, secret_access_key, session_token or "", _epoch_ms(expiration))

    @classmethod
    def _own(cls, handle):
        self = cls.__new__(cls)
        self._h = handle
        return self

    def __del__(self):
        h, self._h = getattr(self, "_h", None), None
        if h is not None:
            _raw.eqops_aws_credentials_free(h)

    @property
    def access_key_id(self):
        return _raw.eqops_aws_credentials_access_key_id(self._h)

    @property
    def secret_access_key(self):
        return _raw.eqops_aws_credentials_secret_access_key(self._h)

    @property
    def session_token(self):
        return _raw.eqops_aws_credentials_session_token(self._h) or None

    @property
    def expiration(self):
        """A UTC datetime, or None for long-term keys."""
        return _from_ms(_raw.eqops_aws_credentials_expiration(self._h))

    @property
    def source(self):
        """"environment", "profile NAME", "assume-role", "process", "web-identity", ..."""
        return _raw.eqops_aws_credentials_source(self._h)

    def __repr__(self):
        return "Credentials(access_key_id=%r, source=%r, expiration=%r)" % (
            self.access_key_id, self.source, self.expiration)


@dataclass(frozen=True)
class SignedRequest:
    """What a signature produced: the URL to send (presigned or as given), the headers to add,
    and the intermediate texts. A presigned URL, the headers and the canonical request can
    carry the session token: repr() shows only the signature."""
    url: str = field(repr=False)
    headers: tuple = field(repr=False)
    canonical_request: str = field(repr=False)
    string_to_sign: str = field(repr=False)
    signature: str


def _header_lines(headers):
    if headers is None:
        return ""
    items = headers.items() if isinstance(headers, dict) else headers
    lines = []
    for name, value in items:
        line = "%s: %s" % (name, value)
        if "\n" in line or "\r" in line:
            raise ValueError("headers[%r]: a header cannot hold a line break" % name)
        lines.append(line)
    return "\n".join(lines)


class Signer:
    """SigV4 signing with the signing key cached per day: sign many requests with one Signer
    (from one thread at a time)."""

    def __init__(self, credentials, region, service, *, presign=False, expires=None, s3=False,
                 normalize=True, sign_body=False, unsigned_payload=False,
                 omit_session_token=False, unsigned_headers=()):
        self._creds = credentials
        self._h = _raw.eqops_bind_aws_signer_new(
            credentials._h, region, service, int(bool(presign)), _seconds(expires),
            int(bool(s3)), int(not normalize), int(bool(sign_body)), int(bool(unsigned_payload)),
            int(bool(omit_session_token)), _lines(unsigned_headers, "unsigned_headers"))

    def __del__(self):
        h, self._h = getattr(self, "_h", None), None
        if h is not None:
            _raw.eqops_aws_signer_free(h)

    def sign(self, method, url, headers=None, body=b"", time=None):
        """Sign a request. headers: a dict or (name, value) pairs; body: bytes or str;
        time: a datetime or milliseconds (None: now). Returns a SignedRequest."""
        if isinstance(body, str):
            body = body.encode()
        h = self._h
        _raw.eqops_bind_aws_signer_sign(h, method, url, _header_lines(headers), body,
                                        _epoch_ms(time))
        n = _raw.eqops_aws_signer_header_count(h)
        return SignedRequest(
            url=_raw.eqops_aws_signer_url(h),
            headers=tuple((_raw.eqops_aws_signer_header_name(h, i),
                           _raw.eqops_aws_signer_header_value(h, i)) for i in range(n)),
            canonical_request=_raw.eqops_aws_signer_canonical_request(h),
            string_to_sign=_raw.eqops_aws_signer_string_to_sign(h),
            signature=_raw.eqops_aws_signer_signature(h))


def _metric_batch(metrics):
    batch = _raw.eqops_bind_aws_metrics_new()
    if batch is None:
        raise MemoryError()
    try:
        for i, m in enumerate(metrics):
            if not isinstance(m, dict):
                raise TypeError("metrics[%d]: expected a dict with name and value" % i)
            unknown = set(m) - {"name", "value", "unit", "dimensions", "timestamp",
                                "storage_resolution"}
            if unknown:
                raise ValueError("metrics[%d]: unknown keys %s" % (i, sorted(unknown)))
            dims = m.get("dimensions") or {}
            if isinstance(dims, dict):
                dims = ["%s=%s" % (k, v) for k, v in dims.items()]
            if "name" not in m or "value" not in m:
                raise ValueError("metrics[%d]: name and value are required" % i)
            _raw.eqops_bind_aws_metrics_add(
                batch, m["name"], float(m["value"]), m.get("unit") or "",
                _lines(dims, "metrics[%d].dimensions" % i), _epoch_ms(m.get("timestamp")),
                int(m.get("storage_resolution") or 0))
        return batch
    except BaseException:
        _raw.eqops_bind_aws_metrics_free(batch)
        raise


class Client(Owned):
    """A client for one region. Credentials come from `credentials` or the default chain
    (resolved at the first request, cached, refreshed before they expire). Use one Client per
    thread (or lock around it)."""

    _free = staticmethod(_raw.eqops_aws_free)
    _what = "Client"

    def __init__(self, region=None, *, profile=None, credentials=None, endpoint_url=None,
                 max_retries=0, connect_timeout=None, timeout=None, ca_file=None,
                 config_file=None, credentials_file=None, imds_endpoint=None, cancel=None):
        """max_retries: retries after the first attempt (0 = the default, 2; -1 = none);
        cancel: an eqops.CancelToken every request of this client checks."""
        self._cancel = cancel  # the C client holds it: keep it alive
        self._h = _raw.eqops_bind_aws_new(
            region or "", profile or "", credentials._h if credentials else None,
            endpoint_url or "", int(max_retries), _ms_of_seconds(connect_timeout),
            _ms_of_seconds(timeout), str(ca_file or ""), str(config_file or ""),
            str(credentials_file or ""), imds_endpoint or "", _cancel.handle(cancel))

    @property
    def region(self):
        """The region in use ("" when none was found)."""
        return _raw.eqops_aws_region(self._handle())

    def credentials(self):
        """The credentials the chain gives now (NotFound lists the sources tried)."""
        return Credentials._own(_raw.eqops_bind_aws_credentials_resolve(self._handle()))

    def presign(self, method, url, service, expires=None):
        """A presigned URL for `method` `url` of `service`, valid `expires` (default 1 h)."""
        return _raw.eqops_aws_presign(self._handle(), method, url, service, _seconds(expires))

    # ---- STS ----------------------------------------------------------------------------------
    def caller_identity(self):
        """{"account", "arn", "user_id"} of the caller."""
        return _doc(_raw.eqops_aws_sts_caller_identity(self._handle()))

    def assume_role(self, role_arn, session_name, duration=None):
        """Temporary Credentials for a role (duration 15 min to 12 h; default 1 h)."""
        return Credentials._own(_raw.eqops_bind_aws_sts_assume_role(
            self._handle(), role_arn, session_name, _seconds(duration)))

    def assume_role_with_web_identity(self, role_arn, session_name, token, duration=None):
        """The same for an OIDC token (the request is not signed)."""
        return Credentials._own(_raw.eqops_bind_aws_sts_assume_role_with_web_identity(
            self._handle(), role_arn, session_name, token, _seconds(duration)))

    # ---- EKS ----------------------------------------------------------------------------------
    def eks_describe_cluster(self, name):
        """The cluster as EKS describes it (endpoint, certificateAuthority.data, version...)."""
        return _doc(_raw.eqops_aws_eks_describe_cluster(self._handle(), name))

    def eks_token(self, cluster):
        """(token, expires): the bearer token for the cluster's API server and when to renew
        it (a UTC datetime). No request is made."""
        token, expires = _raw.eqops_aws_eks_token(self._handle(), cluster)
        return token, _from_ms(expires)

    def eks_exec_credential(self, cluster, api_version=None):
        """The ExecCredential a kubeconfig exec plugin prints, as a dict."""
        return _doc(_raw.eqops_aws_eks_exec_credential(self._handle(), cluster, api_version))

    # ---- Secrets Manager ------------------------------------------------------------------------
    def secret_create(self, name, value, description=None):
        """Create a secret (AlreadyExists when it exists): {"arn", "name", "version_id"}."""
        return _doc(_raw.eqops_aws_secret_create(self._handle(), name, value, description))

    def secret_get(self, secret_id, version_stage=None):
        """The secret's string value (NotFound when there is none)."""
        return _raw.eqops_aws_secret_get(self._handle(), secret_id, version_stage)

    def secret_put(self, secret_id, value):
        """Store a new value: {"arn", "name", "version_id"}."""
        return _doc(_raw.eqops_aws_secret_put(self._handle(), secret_id, value))

    def secret_describe(self, secret_id):
        """The secret's metadata (no value)."""
        return _doc(_raw.eqops_aws_secret_describe(self._handle(), secret_id))

    def secret_delete(self, secret_id, force=False):
        """Delete with a 7-day recovery window, or at once with force=True."""
        _raw.eqops_aws_secret_delete(self._handle(), secret_id, int(bool(force)))

    # ---- CloudWatch -----------------------------------------------------------------------------
    def put_metrics(self, namespace, metrics):
        """PutMetricData in as few requests as the limits allow. metrics: dicts with name,
        value and optionally unit, dimensions ({name: value}), timestamp, storage_resolution.
        Everything is checked before anything is sent."""
        batch = _metric_batch(metrics)
        try:
            _raw.eqops_bind_aws_metrics_put(self._handle(), namespace, batch)
        finally:
            _raw.eqops_bind_aws_metrics_free(batch)

    def get_metrics(self, queries, start, end):
        """GetMetricData: queries as the API's MetricDataQueries (a list, or its JSON); returns
        the MetricDataResults of every page."""
        if not isinstance(queries, str):
            queries = json.dumps(queries)
        return _doc(_raw.eqops_aws_metrics_get(self._handle(), queries, _epoch_ms(start),
                                               _epoch_ms(end)))
