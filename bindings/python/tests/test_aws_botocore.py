"""libeqops' SigV4 signer against botocore's, on randomised requests with the clock fixed.

Each case is signed by both (header mode and presigned URLs, S3 and other services, with and
without a session token) and must agree byte for byte: the signature, the Authorization header,
the headers the signer adds, and for presigned URLs every query parameter.

botocore's quirks, which the generator stays clear of (they are not SigV4 rules, and the AWS
signing test suite agrees with libeqops on each):
  - The URL's query string is sorted as sent, never decoded and re-encoded: a query that is not
    already in canonical form ("a=b c", "%7e", "+") is signed differently from how the service
    canonicalises it. The generator sends canonical queries; libeqops re-encodes any query.
  - Presigning runs the query through parse_qs: a repeated key keeps only its first value and
    "+" becomes a space. The generator uses distinct keys and no "+" when presigning.
  - Header values are folded on any Unicode whitespace (str.split()), so "\\x0b", "\\x1c" or a
    no-break space become separators; libeqops folds the HTTP whitespace (space, tab) and line
    breaks only. The generator's odd whitespace is spaces and tabs.
  - Two headers of the same name cannot be given (a dict); libeqops joins them with ",".
  - Presigning drops a Content-Type of "application/x-www-form-urlencoded; charset=utf-8" (the
    value its own serialiser sets) from the signed headers; libeqops signs the headers it is
    given. The generator sends that Content-Type in header mode only.
  - The session token is always signed; libeqops can leave it unsigned (omit_session_token),
    which the test does not use.
"""
import datetime
import random
from urllib.parse import parse_qsl, quote, urlsplit

import pytest

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from eqops import aws

CASES = 1200
SEED = 20261127

ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEK7//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+token/with+odd=chars"

HOSTS = ["example.amazonaws.com", "sts.eu-west-1.amazonaws.com", "127.0.0.1:5000",
         "secretsmanager.us-east-1.amazonaws.com:443", "Bucket.S3.Amazonaws.COM",
         "monitoring.eu-central-1.amazonaws.com:8443", "[::1]:4566"]
SEGMENT_CHARS = ("abcXYZ019-_.~ !$&'()*+,;=:@%" + "é日本😀/")
QUERY_CHARS = "abcXYZ019-_.~ !$&'()*+,;=:@/?%é日😀"
HEADER_NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
VALUE_CHARS = "abcXYZ019-_.~!\"#$%&'()*+,/:;<=>?@[\\]^`{|}é日😀"


def rand_text(rng, chars, lo, hi):
    return "".join(rng.choice(chars) for _ in range(rng.randint(lo, hi)))


def rand_path(rng, s3):
    segs = []
    for _ in range(rng.randint(0, 5)):
        r = rng.random()
        if r < 0.1:
            segs.append("")  # "//"
        elif r < 0.18 and not s3:
            segs.append(rng.choice([".", ".."]))
        else:
            segs.append(quote(rand_text(rng, SEGMENT_CHARS, 1, 12), safe="-_.~!$'()*,;=:@"))
    path = "/" + "/".join(segs)
    if segs and rng.random() < 0.3:
        path += "/"
    return path


def rand_query(rng, presign):
    pairs, keys = [], set()
    for _ in range(rng.randint(0, 6)):
        k = rand_text(rng, QUERY_CHARS.replace("+", "") if presign else QUERY_CHARS, 1, 8)
        if presign and k in keys:
            continue
        keys.add(k)
        v = "" if rng.random() < 0.15 else rand_text(
            rng, QUERY_CHARS.replace("+", "") if presign else QUERY_CHARS, 1, 16)
        if not presign and pairs and rng.random() < 0.1:
            k = pairs[0][0]  # a repeated key: sorted by value
        pairs.append((k, v))
    if presign:
        pairs = [(k, v) for k, v in pairs if not k.lower().startswith("x-amz-")]
    return "&".join("%s=%s" % (quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in pairs)


def odd_spaces(rng, text):
    def ws():
        return "".join(rng.choice(" \t") for _ in range(rng.randint(1, 3)))
    words = text.split(" ")
    out = (ws() if rng.random() < 0.3 else "") + ws().join(w for w in words)
    return out + (ws() if rng.random() < 0.3 else "")


def rand_headers(rng, host_given, host, presign):
    headers = {}
    if host_given:
        headers["Host" if rng.random() < 0.5 else "host"] = host
    for _ in range(rng.randint(0, 6)):
        name = rng.choice(["X-Amz-Meta-", "X-Custom-", "Content-", "x-amz-", ""]) + \
            rand_text(rng, HEADER_NAME_CHARS, 1, 12)
        if name.lower() in {n.lower() for n in headers} or name.lower() in (
                "x-amz-date", "x-amz-security-token", "x-amz-content-sha256", "authorization",
                "host"):
            continue
        value = " ".join(rand_text(rng, VALUE_CHARS, 0, 10) for _ in range(rng.randint(1, 3)))
        headers[name] = odd_spaces(rng, value) if rng.random() < 0.5 else value
    if rng.random() < 0.2:
        headers["User-Agent"] = "eqops-test/1.0"  # never signed by either
    if rng.random() < 0.1 and not presign:
        headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
    return headers


class Case:
    def __init__(self, rng, index):
        self.index = index
        self.presign = rng.random() < 0.35
        self.s3 = rng.random() < 0.25
        self.token = TOKEN if rng.random() < 0.4 else None
        self.method = rng.choice(["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH"])
        scheme = rng.choice(["https", "https", "http"])
        host = rng.choice(HOSTS)
        self.region = rng.choice(["us-east-1", "eu-west-1", "ap-southeast-2"])
        self.service = "s3" if self.s3 else rng.choice(["sts", "secretsmanager", "eks",
                                                         "monitoring", "execute-api"])
        query = rand_query(rng, self.presign)
        self.url = "%s://%s%s%s" % (scheme, host, rand_path(rng, self.s3),
                                    "?" + query if query else "")
        self.headers = rand_headers(rng, rng.random() < 0.3, host.lower(), self.presign)
        self.body = b"" if rng.random() < 0.4 or self.presign else bytes(
            rng.getrandbits(8) for _ in range(rng.randint(1, 300)))
        self.expires = rng.choice([1, 60, 900, 3600, 604800])
        self.when = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc) + \
            datetime.timedelta(seconds=rng.randint(0, 3 * 365 * 86400))

    def __repr__(self):
        return "case %d: %s %s s3=%s presign=%s token=%s headers=%r body=%d bytes" % (
            self.index, self.method, self.url, self.s3, self.presign, bool(self.token),
            self.headers, len(self.body))


def boto_sign(case, monkeypatch):
    monkeypatch.setattr(botocore.auth, "get_current_datetime",
                        lambda: case.when.replace(tzinfo=None))
    creds = BotoCredentials(ACCESS_KEY, SECRET_KEY, case.token)
    if case.presign:
        cls = botocore.auth.S3SigV4QueryAuth if case.s3 else botocore.auth.SigV4QueryAuth
        auth = cls(creds, case.service, case.region, expires=case.expires)
    else:
        cls = botocore.auth.S3SigV4Auth if case.s3 else botocore.auth.SigV4Auth
        auth = cls(creds, case.service, case.region)
    request = AWSRequest(method=case.method, url=case.url, headers=dict(case.headers),
                         data=case.body)
    auth.add_auth(request)
    return request


def eqops_sign(case, credentials):
    signer = aws.Signer(credentials[bool(case.token)], case.region, case.service,
                        presign=case.presign, expires=case.expires, s3=case.s3)
    return signer.sign(case.method, case.url, case.headers, case.body, case.when)


@pytest.fixture(scope="module")
def credentials():
    return {False: aws.Credentials(ACCESS_KEY, SECRET_KEY),
            True: aws.Credentials(ACCESS_KEY, SECRET_KEY, TOKEN)}


def compare(case, credentials, monkeypatch):
    theirs = boto_sign(case, monkeypatch)
    ours = eqops_sign(case, credentials)
    if case.presign:
        q_ours = urlsplit(ours.url).query
        q_theirs = urlsplit(theirs.url).query
        assert sorted(parse_qsl(q_ours, keep_blank_values=True)) == \
            sorted(parse_qsl(q_theirs, keep_blank_values=True)), case
        assert ours.signature == dict(parse_qsl(q_theirs))["X-Amz-Signature"], case
        assert urlsplit(ours.url)[:3] == urlsplit(theirs.url)[:3], case
        assert ours.headers == (), case
    else:
        added = {k.lower(): v for k, v in ours.headers}  # HTTP header names are case-blind
        assert len(added) == len(ours.headers), ours.headers
        assert added["authorization"] == theirs.headers["Authorization"], \
            (case, ours.canonical_request)
        assert ours.signature in added["authorization"]
        assert added["x-amz-date"] == theirs.headers["X-Amz-Date"], case
        assert added.get("x-amz-security-token") == theirs.headers.get("X-Amz-Security-Token")
        assert added.get("x-amz-content-sha256") == theirs.headers.get("X-Amz-Content-SHA256")


def test_random_requests_agree_with_botocore(credentials, monkeypatch):
    rng = random.Random(SEED)
    kinds = {}
    for i in range(CASES):
        case = Case(rng, i)
        compare(case, credentials, monkeypatch)
        kind = (case.presign, case.s3, bool(case.token))
        kinds[kind] = kinds.get(kind, 0) + 1
    # every combination of mode, S3 rules and token was exercised many times
    assert len(kinds) == 8 and min(kinds.values()) >= 30, kinds


def test_canonical_request_agrees_with_botocore(credentials, monkeypatch):
    rng = random.Random(SEED + 1)
    for i in range(200):
        case = Case(rng, i)
        case.presign = False
        request = boto_sign(case, monkeypatch)
        auth = (botocore.auth.S3SigV4Auth if case.s3 else botocore.auth.SigV4Auth)(
            BotoCredentials(ACCESS_KEY, SECRET_KEY, case.token), case.service, case.region)
        request.context["timestamp"] = case.when.strftime("%Y%m%dT%H%M%SZ")
        del request.headers["Authorization"]  # added by the signature, not signed itself
        ours = eqops_sign(case, credentials)
        assert ours.canonical_request == auth.canonical_request(request), case
        assert ours.string_to_sign == auth.string_to_sign(request, ours.canonical_request)


def test_a_difference_is_noticed(credentials, monkeypatch):
    """The comparison is able to fail: one changed byte of the secret changes the signature."""
    case = Case(random.Random(SEED), 0)
    case.presign = False
    theirs = boto_sign(case, monkeypatch)
    other = {False: aws.Credentials(ACCESS_KEY, SECRET_KEY[:-1] + "X"),
             True: aws.Credentials(ACCESS_KEY, SECRET_KEY[:-1] + "X", TOKEN)}
    ours = eqops_sign(case, other)
    assert dict(ours.headers)["Authorization"] != theirs.headers["Authorization"]
    assert dict(ours.headers)["Authorization"][:-64] == theirs.headers["Authorization"][:-64]
