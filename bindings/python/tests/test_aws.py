"""eqops.aws without a network: signing, credentials, the EKS token, input checks.

The service calls run against moto in tests/integration/test_aws.py.
"""
import base64
import datetime
import os
from urllib.parse import parse_qs, urlsplit

import pytest

import eqops
from eqops import aws

AKID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
WHEN = datetime.datetime(2015, 8, 30, 12, 36, tzinfo=datetime.timezone.utc)


@pytest.fixture(autouse=True)
def no_aws_environment(monkeypatch):
    """These tests make no request: no endpoint, profile or key from the caller's shell."""
    for k in list(os.environ):
        if k.startswith("AWS_"):
            monkeypatch.delenv(k)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def creds():
    return aws.Credentials(AKID, SECRET)


def test_signer_matches_the_aws_suite_get_vanilla(creds):
    s = aws.Signer(creds, "us-east-1", "service")
    r = s.sign("GET", "https://example.amazonaws.com/", time=WHEN)
    assert r.signature == "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    assert dict(r.headers)["X-Amz-Date"] == "20150830T123600Z"
    assert r.canonical_request.startswith("GET\n/\n\nhost:example.amazonaws.com\n")
    assert r.url == "https://example.amazonaws.com/"


def test_signer_post_with_body_and_headers(creds):
    s = aws.Signer(creds, "us-east-1", "service")
    r = s.sign("POST", "https://example.amazonaws.com/?Param1=value1",
               [("My-Header1", "  a   b  "), ("Content-Type", "text/plain")], "hello",
               int(WHEN.timestamp() * 1000))
    assert "my-header1:a b\n" in r.canonical_request
    assert r.canonical_request.endswith(
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
    # bytes, bytearray and memoryview bodies are the same body
    for body in (b"hello", bytearray(b"hello"), memoryview(b"hello")):
        again = s.sign("POST", "https://example.amazonaws.com/?Param1=value1",
                       [("My-Header1", "a b"), ("Content-Type", "text/plain")], body, WHEN)
        assert again.signature == r.signature


def test_presigned_url_and_session_token():
    c = aws.Credentials(AKID, SECRET, "session-token/+=")
    s = aws.Signer(c, "us-east-1", "sts", presign=True, expires="15m")
    r = s.sign("GET", "https://sts.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15",
               {"x-k8s-aws-id": "prod"}, time=WHEN)
    q = parse_qs(urlsplit(r.url).query)
    assert q["X-Amz-Expires"] == ["900"]
    assert q["X-Amz-SignedHeaders"] == ["host;x-k8s-aws-id"]
    assert q["X-Amz-Security-Token"] == ["session-token/+="]
    assert q["X-Amz-Signature"] == [r.signature]
    assert r.headers == ()
    assert "session-token" not in repr(r) and r.signature in repr(r)


def test_signer_options_change_the_canonical_request(creds):
    url = "https://example.amazonaws.com/a/../b//c"
    normal = aws.Signer(creds, "us-east-1", "service").sign("GET", url, time=WHEN)
    raw = aws.Signer(creds, "us-east-1", "service", normalize=False).sign("GET", url, time=WHEN)
    assert normal.canonical_request.split("\n")[1] == "/b/c"
    assert raw.canonical_request.split("\n")[1] == "/a/../b//c"
    s3 = aws.Signer(creds, "us-east-1", "s3", s3=True, unsigned_payload=True)
    r = s3.sign("PUT", "https://bucket.s3.amazonaws.com/key%20name", body=b"x", time=WHEN)
    assert dict(r.headers)["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
    assert r.canonical_request.split("\n")[1] == "/key%20name"
    skip = aws.Signer(creds, "us-east-1", "service", unsigned_headers=["X-Trace"])
    r = skip.sign("GET", "https://example.amazonaws.com/", {"X-Trace": "1"}, time=WHEN)
    assert "x-trace" not in r.canonical_request


def test_credentials_keep_secrets_out_of_repr():
    c = aws.Credentials("AKIDX", "very-secret", "tok", expiration=WHEN)
    assert "very-secret" not in repr(c) and "tok" not in repr(c)
    assert c.secret_access_key == "very-secret" and c.session_token == "tok"
    assert c.expiration == WHEN and c.source == "static"
    assert aws.Credentials("AKIDX", "s").session_token is None
    with pytest.raises(eqops.InvalidArgument):
        aws.Credentials("", "s")


def test_bad_input_names_the_field(creds):
    with pytest.raises(eqops.InvalidArgument) as e:
        aws.Signer(creds, "", "sts")
    assert e.value.field
    s = aws.Signer(creds, "us-east-1", "sts")
    with pytest.raises(eqops.InvalidArgument) as e:
        s.sign("GET", "not a url")
    assert e.value.field == "url"
    with pytest.raises(ValueError):
        s.sign("GET", "https://x.amazonaws.com/", {"X-A": "a\r\nX-Injected: 1"})
    with pytest.raises(TypeError):
        s.sign("GET", "https://x.amazonaws.com/", body=12)
    with pytest.raises(ValueError):
        s.sign("GET", "https://x.amazonaws.com/", time=datetime.datetime(2020, 1, 1))
    with pytest.raises(eqops.InvalidArgument):
        aws.Client(region="not a region", credentials=creds)


def test_eks_token_offline(creds):
    client = aws.Client(region="eu-west-1", credentials=creds)
    assert client.region == "eu-west-1"
    token, expires = client.eks_token("prod-eu")
    assert token.startswith("k8s-aws-v1.") and "=" not in token
    url = base64.urlsafe_b64decode(token[11:] + "=" * (-len(token[11:]) % 4)).decode()
    parts = urlsplit(url)
    assert parts.netloc == "sts.eu-west-1.amazonaws.com"
    q = parse_qs(parts.query)
    assert q["Action"] == ["GetCallerIdentity"] and q["X-Amz-Expires"] == ["60"]
    assert q["X-Amz-SignedHeaders"] == ["host;x-k8s-aws-id"]
    now = datetime.datetime.now(datetime.timezone.utc)
    assert datetime.timedelta(minutes=13) < expires - now <= datetime.timedelta(minutes=14)
    cred = client.eks_exec_credential("prod-eu", "client.authentication.k8s.io/v1")
    assert cred["kind"] == "ExecCredential"
    assert cred["apiVersion"] == "client.authentication.k8s.io/v1"
    assert cred["status"]["token"].startswith("k8s-aws-v1.")
    url = client.presign("GET", "https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity"
                         "&Version=2011-06-15", "sts", expires=300)
    assert "X-Amz-Expires=300" in url


def test_client_credentials_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    client = aws.Client(region="eu-west-1", config_file=tmp_path / "none",
                        credentials_file=tmp_path / "none")
    c = client.credentials()
    assert (c.access_key_id, c.source) == ("AKIDENV", "environment")
    client.close()
    with pytest.raises(ValueError):
        client.credentials()


def test_profile_credentials(monkeypatch, tmp_path):
    (tmp_path / "credentials").write_text(
        "[default]\naws_access_key_id = AKIDDEF\naws_secret_access_key = d\n"
        "[ops]\naws_access_key_id = AKIDOPS\naws_secret_access_key = o\n")
    (tmp_path / "config").write_text("[profile ops]\nregion = ap-southeast-2\n")
    with aws.Client(profile="ops", config_file=tmp_path / "config",
                    credentials_file=tmp_path / "credentials") as client:
        assert client.region == "ap-southeast-2"
        c = client.credentials()
        assert (c.access_key_id, c.source) == ("AKIDOPS", "profile ops")


def test_metrics_are_checked_before_anything_is_sent(creds):
    # an endpoint nothing listens on: a request would fail with Unavailable, not InvalidArgument
    client = aws.Client(region="eu-west-1", credentials=creds,
                        endpoint_url="http://127.0.0.1:9", max_retries=-1)
    good = {"name": "Onboarded", "value": 1, "unit": "Count", "dimensions": {"Region": "eu"}}
    with pytest.raises(eqops.InvalidArgument) as e:
        client.put_metrics("Platform", [good, {"name": "Bad", "value": float("nan")}])
    assert e.value.field == "metrics[1].value"
    with pytest.raises(eqops.InvalidArgument) as e:
        client.put_metrics("Platform", [dict(good, unit="Parsecs")])
    assert e.value.field == "metrics[0].unit"
    with pytest.raises(ValueError):
        client.put_metrics("Platform", [{"name": "x", "value": 1, "colour": "red"}])
    with pytest.raises(eqops.Unavailable):
        client.put_metrics("Platform", [good])
    with pytest.raises(eqops.InvalidArgument):
        client.get_metrics("not json", WHEN, WHEN + datetime.timedelta(hours=1))
