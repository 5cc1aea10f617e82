"""SigV4 signing speed: libeqops (C, and through the Python binding) against botocore, on the
same four requests at the same fixed time, in one run. Checks first that all three produce the
same signatures, then prints signatures per second and the ratios. Not a test.

usage: python3 bench/aws_sign.py AWS_SIGN_BINARY [signatures=1000000] [botocore_signatures=50000]
(bench/aws_sign.sh builds the binary and runs this.)
"""
import datetime
import re
import subprocess
import sys
import time

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from eqops import aws

AKID = "ASIAEXAMPLEBENCH0001"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEBench/session/token+value="
REGION = "eu-west-1"
WHEN = datetime.datetime(2026, 11, 27, 6, 0, 0)  # BENCH_TIME_MS of aws_sign.c

# the requests of aws_sign.c, in the same order
REQUESTS = [
    ("secretsmanager", False, "POST", "https://secretsmanager.eu-west-1.amazonaws.com/",
     {"Content-Type": "application/x-amz-json-1.1",
      "X-Amz-Target": "secretsmanager.GetSecretValue"},
     b'{"SecretId": "tenants/acme-power/db"}'),
    ("monitoring", False, "POST", "https://monitoring.eu-west-1.amazonaws.com/",
     {"Content-Type": "application/x-amz-json-1.0",
      "X-Amz-Target": "GraniteServiceVersion20100801.PutMetricData",
      "x-amzn-query-mode": "true"},
     b'{"Namespace": "Platform/Tenants", "MetricData": [{"MetricName": "Onboarded", '
     b'"Value": 1, "Unit": "Count", "Dimensions": [{"Name": "Region", "Value": '
     b'"eu-west-1"}, {"Name": "Tier", "Value": "gold"}]}]}'),
    ("sts", False, "POST", "https://sts.eu-west-1.amazonaws.com/",
     {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
     b"Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2F"
     b"deployer&RoleSessionName=eqops"),
    ("sts", True, "GET",
     "https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15",
     {"x-k8s-aws-id": "prod-eu"}, b""),
]


def botocore_signers():
    botocore.auth.get_current_datetime = lambda: WHEN
    creds = Credentials(AKID, SECRET, TOKEN)
    out = []
    for service, presign, method, url, headers, body in REQUESTS:
        auth = (botocore.auth.SigV4QueryAuth(creds, service, REGION, expires=60) if presign
                else botocore.auth.SigV4Auth(creds, service, REGION))
        out.append((auth, AWSRequest(method=method, url=url, headers=dict(headers), data=body),
                    url))
    return out


def botocore_signature(auth, req, url):
    req.url = url  # presigning rewrites it
    auth.add_auth(req)
    if "X-Amz-Signature=" in req.url:
        return req.url.rsplit("X-Amz-Signature=", 1)[1]
    return req.headers["Authorization"].rsplit("Signature=", 1)[1]


def main():
    binary = sys.argv[1]
    n_c = int(sys.argv[2]) if len(sys.argv) > 2 else 1000000
    n_py = int(sys.argv[3]) if len(sys.argv) > 3 else 50000

    # libeqops from C
    out = subprocess.run([binary, str(n_c)], check=True, capture_output=True, text=True).stdout
    c_sigs = [line.split()[2] for line in out.splitlines() if line.startswith("signature ")]
    c_rate = float(re.search(r"([0-9.]+) signatures/s", out).group(1))

    # the same signatures from botocore and from the Python binding
    boto = botocore_signers()
    boto_sigs = [botocore_signature(*b) for b in boto]
    creds = aws.Credentials(AKID, SECRET, TOKEN)
    signers = [aws.Signer(creds, REGION, service, presign=presign, expires=60)
               for service, presign, *_ in REQUESTS]
    ms = int(WHEN.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)
    py_sigs = [s.sign(m, u, h, b, ms).signature
               for s, (_, _, m, u, h, b) in zip(signers, REQUESTS)]
    if not (c_sigs == boto_sigs == py_sigs):
        sys.exit("signatures differ:\n  C        %s\n  botocore %s\n  Python   %s"
                 % (c_sigs, boto_sigs, py_sigs))

    t0 = time.perf_counter()
    for k in range(n_py):
        botocore_signature(*boto[k % len(boto)])
    boto_rate = n_py / (time.perf_counter() - t0)

    t0 = time.perf_counter()
    for k in range(n_py):
        _, _, m, u, h, b = REQUESTS[k % len(REQUESTS)]
        signers[k % len(REQUESTS)].sign(m, u, h, b, ms)
    py_rate = n_py / (time.perf_counter() - t0)

    print("same signatures from libeqops (C), libeqops (Python) and botocore %s for the %d "
          "requests" % (botocore.__version__, len(REQUESTS)))
    print("libeqops (C):       %9.0f signatures/s  %7.0f ns each" % (c_rate, 1e9 / c_rate))
    print("libeqops (Python):  %9.0f signatures/s  %7.0f ns each" % (py_rate, 1e9 / py_rate))
    print("botocore:           %9.0f signatures/s  %7.0f ns each" % (boto_rate, 1e9 / boto_rate))
    print("ratio libeqops (C) / botocore:      %.1fx" % (c_rate / boto_rate))
    print("ratio libeqops (Python) / botocore: %.1fx" % (py_rate / boto_rate))


if __name__ == "__main__":
    main()
