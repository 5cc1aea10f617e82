"""The aws module from Python and the eqops CLI against moto (scripts/testenv), signature
checking switched on, and the EKS token against botocore and the AWS CLI."""
import base64
import datetime
import json
import os
import urllib.error
import urllib.request
import uuid
from urllib.parse import parse_qsl, urlsplit

import pytest

import eqops
from conftest import need_env, sh
from eqops import aws

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TESTENV = os.path.join(ROOT, "scripts", "testenv")


def cli():
    return os.environ.get("EQOPS_CLI") or os.path.join(ROOT, "build", "tools", "eqops", "eqops")


@pytest.fixture
def moto():
    return need_env("EQOPS_TEST_AWS_ENDPOINT")[0]


@pytest.fixture
def client(moto):
    with aws.Client("eu-west-1", endpoint_url=moto,
                    credentials=aws.Credentials("testing", "testing")) as c:
        yield c


def unique(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


# ---- every call from Python ------------------------------------------------------------------

def test_sts_calls(client):
    who = client.caller_identity()
    assert who["account"] == "123456789012"
    role = "arn:aws:iam::123456789012:role/py-test"
    c = client.assume_role(role, "py", duration="15m")
    assert c.source == "assume-role" and c.session_token and c.expiration
    as_role = aws.Client("eu-west-1", endpoint_url=client_endpoint(), credentials=c)
    assert "assumed-role/py-test/py" in as_role.caller_identity()["arn"]
    c = client.assume_role_with_web_identity(role, "irsa", "eyJhbGciOiJSUzI1NiJ9.e30.sig")
    assert c.source == "web-identity"
    with pytest.raises(eqops.InvalidArgument) as e:
        client.assume_role("nope", "py")
    assert e.value.field == "role_arn"


def client_endpoint():
    return os.environ["EQOPS_TEST_AWS_ENDPOINT"]


def test_secrets_calls(client):
    name = unique("py/tenant") + "/db"
    out = client.secret_create(name, '{"password": "p\\"q"}', description="tenant db")
    assert out["name"] == name and ":secret:" in out["arn"]
    with pytest.raises(eqops.AlreadyExists) as e:
        client.secret_create(name, "x")
    assert e.value.reason == "ResourceExistsException"
    assert client.secret_get(name) == '{"password": "p\\"q"}'
    client.secret_put(name, "second")
    assert client.secret_get(name) == "second"
    assert client.secret_get(name, "AWSPREVIOUS") == '{"password": "p\\"q"}'
    d = client.secret_describe(name)
    assert d["Description"] == "tenant db" and "SecretString" not in d
    client.secret_delete(name, force=True)
    with pytest.raises(eqops.NotFound) as e:
        client.secret_get(name)
    assert e.value.reason == "ResourceNotFoundException"


def test_eks_and_metrics_calls(client):
    name = unique("py-eks")
    sh("aws", "eks", "create-cluster", "--region", "eu-west-1", "--name", name, "--role-arn",
       "arn:aws:iam::123456789012:role/eks", "--resources-vpc-config", "subnetIds=subnet-1")
    c = client.eks_describe_cluster(name)
    assert c["name"] == name and c["endpoint"].startswith("https://")
    assert base64.b64decode(c["certificateAuthority"]["data"])
    with pytest.raises(eqops.NotFound):
        client.eks_describe_cluster(unique("none"))

    metric = unique("Deploys")
    at = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0) - \
        datetime.timedelta(minutes=1)
    client.put_metrics("Eqops/PyTest", [
        {"name": metric, "value": 1.5, "unit": "Count", "dimensions": {"Tenant": "acme"},
         "timestamp": at} for _ in range(1200)])
    res = client.get_metrics([{"Id": "d", "MetricStat": {"Metric": {
        "Namespace": "Eqops/PyTest", "MetricName": metric,
        "Dimensions": [{"Name": "Tenant", "Value": "acme"}]}, "Period": 60, "Stat": "Sum"}}],
        at - datetime.timedelta(hours=1), at + datetime.timedelta(minutes=2))
    assert sum(res[0]["Values"]) == 1800.0


# ---- the CLI ---------------------------------------------------------------------------------

def test_cli_commands(moto):
    eq = cli()
    who = json.loads(sh(eq, "aws", "whoami", "-o", "json").stdout)
    assert who["account"] == "123456789012" and who["credentials_source"] == "environment"
    name = unique("cli/secret")
    sh(eq, "aws", "secret", "create", name, "-", input="from-stdin\n")
    assert sh(eq, "aws", "secret", "get", name).stdout == "from-stdin\n"
    sh(eq, "aws", "secret", "put", name, "v2")
    got = json.loads(sh(eq, "aws", "secret", "get", name, "-o", "json").stdout)
    assert got == {"name": name, "value": "v2"}
    assert json.loads(sh(eq, "aws", "secret", "describe", name, "-o", "json").stdout)["Name"] == name
    sh(eq, "aws", "secret", "delete", name, "--force")
    r = sh(eq, "aws", "secret", "get", name, check=False)
    assert r.returncode != 0 and "ResourceNotFoundException" in r.stderr and "v2" not in r.stderr
    sh(eq, "aws", "metric", "put", "--namespace", "Eqops/CliTest", "--name", "Runs", "--value",
       "3", "--unit", "Count", "--dimension", "Tenant=acme")
    r = sh(eq, "aws", "metric", "put", "--namespace", "Eqops/CliTest", "--name", "Runs",
           "--value", "nan", check=False)
    assert r.returncode == 2 and "value" in r.stderr
    url = sh(eq, "aws", "presign", moto + "/?Action=GetCallerIdentity&Version=2011-06-15",
             "--service", "sts", "--expires", "120").stdout.strip()
    q = dict(parse_qsl(urlsplit(url).query))
    assert q["X-Amz-Expires"] == "120" and q["Action"] == "GetCallerIdentity"
    assert q["X-Amz-Credential"].startswith("testing/") and len(q["X-Amz-Signature"]) == 64
    # (moto routes a GET of "/" without an Authorization header to S3, so the URL cannot be
    # fetched from it; its signature is checked against botocore in the Python tests)


def test_cli_eks_token_is_what_kubectl_expects(moto):
    """`eqops aws eks-token` prints the ExecCredential of `aws eks get-token`."""
    # The token is a presigned URL dated to the second, and the aws CLI alone can take more
    # than a second to start on a loaded machine: when the two never land in the same second,
    # everything but the date and the signature that depends on it must still agree, and each
    # token must expire the same time after its own date.
    for _ in range(5):
        ours = json.loads(sh(cli(), "aws", "eks-token", "--cluster", "prod",
                             "--region", "eu-west-1").stdout)
        theirs = json.loads(sh("aws", "eks", "get-token", "--cluster-name", "prod",
                               "--region", "eu-west-1").stdout)
        if ours["status"]["expirationTimestamp"] == theirs["status"]["expirationTimestamp"]:
            break
    assert set(ours) == set(theirs) and ours["kind"] == theirs["kind"] == "ExecCredential"
    assert ours["apiVersion"] == theirs["apiVersion"] and ours["spec"] == theirs["spec"] == {}
    same_second = ours["status"]["expirationTimestamp"] == theirs["status"]["expirationTimestamp"]
    (o_url, o_q), (t_url, t_q) = (token_params(ours["status"]["token"]),
                                  token_params(theirs["status"]["token"]))
    assert o_url == t_url
    if same_second:  # the same presigned URL (botocore orders two of its parameters differently)
        assert o_q == t_q
    else:
        dated = {"X-Amz-Date", "X-Amz-Signature"}
        assert {k: v for k, v in o_q.items() if k not in dated} == \
            {k: v for k, v in t_q.items() if k not in dated}
        assert set(o_q) == set(t_q) and len(o_q["X-Amz-Signature"]) == 64

        def lifetime(cred, q):
            exp = datetime.datetime.strptime(cred["status"]["expirationTimestamp"],
                                             "%Y-%m-%dT%H:%M:%SZ")
            return (exp - datetime.datetime.strptime(q["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
                    ).total_seconds()
        # (each tool reads the clock twice, for the date and for the expiry: a second apart
        # at most)
        assert abs(lifetime(ours, o_q) - lifetime(theirs, t_q)) <= 1


def token_url(token):
    assert token.startswith("k8s-aws-v1.") and "=" not in token
    b64 = token[len("k8s-aws-v1."):]
    return base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4)).decode()


def token_params(token):
    url = token_url(token)
    return urlsplit(url)[:3], dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def test_eks_token_signature_matches_botocore(monkeypatch):
    """Decode the token; botocore presigning the same request at the same time signs the same."""
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    for k in list(os.environ):
        if k.startswith("AWS_ENDPOINT_URL"):
            monkeypatch.delenv(k)
    creds = aws.Credentials("AKIDEKSTEST", "eks/secret+key", "session-token")
    client = aws.Client("eu-west-1", credentials=creds)
    token, _ = client.eks_token("prod-eu")
    (scheme, host, path), params = token_params(token)
    assert (scheme, host, path) == ("https", "sts.eu-west-1.amazonaws.com", "/")
    when = datetime.datetime.strptime(params["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: when)
    req = AWSRequest(method="GET", url="https://sts.eu-west-1.amazonaws.com/",
                     params={"Action": "GetCallerIdentity", "Version": "2011-06-15"},
                     headers={"x-k8s-aws-id": "prod-eu"})
    botocore.auth.SigV4QueryAuth(Credentials("AKIDEKSTEST", "eks/secret+key", "session-token"),
                                 "sts", "eu-west-1", expires=60).add_auth(req)
    theirs = dict(parse_qsl(urlsplit(req.url).query, keep_blank_values=True))
    assert params == theirs
    assert params["X-Amz-SignedHeaders"] == "host;x-k8s-aws-id"


# ---- signature checking on -------------------------------------------------------------------

@pytest.fixture
def moto_auth(moto):
    sh(TESTENV, "moto-auth", "on")
    try:
        env = {}
        for line in sh(TESTENV, "env").stdout.splitlines():
            k, _, v = line[len("export "):].partition("=")
            env[k] = v.strip("'")
        yield env["EQOPS_TEST_AWS_AUTH_KEY_ID"], env["EQOPS_TEST_AWS_AUTH_SECRET"]
    finally:
        sh(TESTENV, "moto-auth", "off")


def send(url, method, headers, body):
    req = urllib.request.Request(url, data=body or None, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_signatures_checked_by_moto(moto, moto_auth):
    key, secret = moto_auth
    good = aws.Client("eu-west-1", endpoint_url=moto, credentials=aws.Credentials(key, secret))
    assert good.caller_identity()["arn"].endswith(":user/" + good.caller_identity()["arn"]
                                                  .rsplit("/", 1)[1])
    name = unique("auth/secret")
    good.secret_create(name, "checked")
    assert good.secret_get(name) == "checked"
    # (moto cannot check presigned URLs: with checking on it wants an Authorization header)

    # a wrong secret
    bad = aws.Client("eu-west-1", endpoint_url=moto, max_retries=-1,
                     credentials=aws.Credentials(key, secret[:-1] + "x"))
    with pytest.raises(eqops.Error) as e:
        bad.secret_get(name)
    assert e.value.http_status in (400, 403) and "Signature" in (e.value.reason +
                                                                   e.value.message)

    # a request signed once and then changed on the way: body, date
    signer = aws.Signer(aws.Credentials(key, secret), "eu-west-1", "secretsmanager")
    body = json.dumps({"SecretId": name}).encode()
    headers = {"Content-Type": "application/x-amz-json-1.1",
               "X-Amz-Target": "secretsmanager.GetSecretValue"}
    signed = signer.sign("POST", moto + "/", headers, body)
    all_headers = dict(headers, **dict(signed.headers))
    status, answer = send(moto + "/", "POST", all_headers, body)
    assert status == 200 and json.loads(answer)["SecretString"] == "checked"
    status, answer = send(moto + "/", "POST", all_headers, body.replace(b"auth/", b"xuth/"))
    assert status == 403, answer
    date = all_headers["X-Amz-Date"]
    later = date[:-3] + "%02dZ" % ((int(date[-3:-1]) + 1) % 60)
    status, answer = send(moto + "/", "POST", dict(all_headers, **{"X-Amz-Date": later}), body)
    assert status == 403, answer
