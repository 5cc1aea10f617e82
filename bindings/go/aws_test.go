package eqops

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

var exampleCreds = AWSCredentials{AccessKeyID: "AKIDEXAMPLE",
	SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}

// no AWS settings of the caller's shell: these tests make no request
func isolateAWS(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

func TestSignerSuiteVector(t *testing.T) {
	s, err := NewSigner(exampleCreds, SignOptions{Region: "us-east-1", Service: "service"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)
	r, err := s.Sign("GET", "https://example.amazonaws.com/", nil, nil, at)
	if err != nil {
		t.Fatal(err)
	}
	if r.Signature != "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31" {
		t.Fatalf("signature %s\n%s", r.Signature, r.CanonicalRequest)
	}
	if len(r.Headers) != 2 || r.Headers[0] != (Header{"X-Amz-Date", "20150830T123600Z"}) ||
		!strings.Contains(r.Headers[1].Value, "Signature="+r.Signature) {
		t.Fatalf("headers %v", r.Headers)
	}
	// a body and headers: the same request signs the same
	r1, err := s.Sign("POST", "https://example.amazonaws.com/?a=b",
		[]Header{{"X-Custom", "  a   b "}}, []byte("hello"), at)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r1.CanonicalRequest, "x-custom:a b\n") ||
		!strings.HasSuffix(r1.CanonicalRequest, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824") {
		t.Fatalf("canonical request:\n%s", r1.CanonicalRequest)
	}
	if _, err := s.Sign("GET", "https://x/", []Header{{"X-A", "a\r\nX-Injected: 1"}}, nil, at); !errors.Is(err, ErrInvalid) {
		t.Fatalf("header with a line break: %v", err)
	}
	if _, err := s.Sign("GET", "no url", nil, nil, at); !errors.Is(err, ErrInvalid) ||
		err.(*Error).Field != "url" {
		t.Fatalf("bad url: %v", err)
	}
	s.Close()
	if _, err := s.Sign("GET", "https://x/", nil, nil, at); err == nil {
		t.Fatal("a closed signer signed")
	}
}

func TestPresignSigner(t *testing.T) {
	c := exampleCreds
	c.SessionToken = "tok/+="
	s, err := NewSigner(c, SignOptions{Region: "us-east-1", Service: "sts", Presign: true,
		Expires: 15 * time.Minute, UnsignedHeaders: []string{"X-Trace"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, err := s.Sign("GET", "https://sts.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15",
		[]Header{{"x-k8s-aws-id", "prod"}, {"X-Trace", "1"}}, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(r.URL)
	q := u.Query()
	if q.Get("X-Amz-Expires") != "900" || q.Get("X-Amz-SignedHeaders") != "host;x-k8s-aws-id" ||
		q.Get("X-Amz-Security-Token") != "tok/+=" || q.Get("X-Amz-Signature") != r.Signature ||
		len(r.Headers) != 0 {
		t.Fatalf("presigned %s", r.URL)
	}
}

func TestAWSCredentialsStringHidesSecrets(t *testing.T) {
	c := AWSCredentials{AccessKeyID: "AKIDX", SecretAccessKey: "s3cret", SessionToken: "t0ken",
		Source: "static"}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, &c)} {
		if strings.Contains(s, "s3cret") || strings.Contains(s, "t0ken") {
			t.Fatalf("secret printed: %s", s)
		}
	}
}

func TestEKSTokenOffline(t *testing.T) {
	isolateAWS(t)
	a, err := NewAWS(AWSOptions{Region: "eu-west-1", Credentials: &exampleCreds})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.Region() != "eu-west-1" {
		t.Fatalf("region %q", a.Region())
	}
	tok, exp, err := a.EKSToken("prod-eu")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, "k8s-aws-v1.") || strings.Contains(tok, "=") {
		t.Fatalf("token %s", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok[len("k8s-aws-v1."):])
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(string(raw))
	if u.Host != "sts.eu-west-1.amazonaws.com" || u.Query().Get("Action") != "GetCallerIdentity" {
		t.Fatalf("token url %s", raw)
	}
	if d := time.Until(exp); d < 13*time.Minute || d > 14*time.Minute {
		t.Fatalf("expires in %v", d)
	}
	ec, err := a.EKSExecCredential("prod-eu", "")
	if err != nil || !strings.Contains(ec, "client.authentication.k8s.io/v1beta1") {
		t.Fatalf("exec credential %s %v", ec, err)
	}
	if _, err := a.EKSExecCredential("prod-eu", "v2"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad api version: %v", err)
	}
	c, err := a.Credentials()
	if err != nil || c.Source != "static" || c.SecretAccessKey != exampleCreds.SecretAccessKey {
		t.Fatalf("credentials %v %v", c, err)
	}
	if _, err := NewAWS(AWSOptions{Region: "not a region"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad region: %v", err)
	}
}

func TestMetricsCheckedBeforeSending(t *testing.T) {
	isolateAWS(t)
	a, err := NewAWS(AWSOptions{Region: "eu-west-1", Credentials: &exampleCreds,
		EndpointURL: "http://127.0.0.1:9", MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	err = a.PutMetrics("Platform", []Metric{{Name: "Ok", Value: 1}, {Name: "Bad", Value: 1, Unit: "Parsecs"}})
	if !errors.Is(err, ErrInvalid) || err.(*Error).Field != "metrics[1].unit" {
		t.Fatalf("bad unit: %v", err)
	}
	if err := a.PutMetrics("Platform", []Metric{{Name: "Ok", Value: 1}}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("nothing listens: %v", err)
	}
	a.Close()
	if _, err := a.CallerIdentity(); err == nil {
		t.Fatal("a closed client answered")
	}
}

// The service tests need scripts/testenv's moto (EQOPS_TEST_AWS_ENDPOINT).
func motoAWS(t *testing.T) *AWS {
	t.Helper()
	ep := os.Getenv("EQOPS_TEST_AWS_ENDPOINT")
	if ep == "" {
		if os.Getenv("EQOPS_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("EQOPS_TEST_AWS_ENDPOINT is not set: scripts/testenv up moto")
		}
		t.Skip("no moto: scripts/testenv up moto; eval \"$(scripts/testenv env)\"")
	}
	a, err := NewAWS(AWSOptions{Region: "eu-west-1", EndpointURL: ep,
		Credentials: &AWSCredentials{AccessKeyID: "testing", SecretAccessKey: "testing"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

func TestServiceAWSSTSAndSecrets(t *testing.T) {
	a := motoAWS(t)
	who, err := a.CallerIdentity()
	if err != nil || who.Account != "123456789012" {
		t.Fatalf("identity %+v %v", who, err)
	}
	role := "arn:aws:iam::123456789012:role/go-test"
	c, err := a.AssumeRole(role, "go", 15*time.Minute)
	if err != nil || c.Source != "assume-role" || c.SessionToken == "" || c.Expiration.IsZero() {
		t.Fatalf("assume role %v %v", c, err)
	}
	c, err = a.AssumeRoleWithWebIdentity(role, "go", "eyJhbGciOiJSUzI1NiJ9.e30.sig", 0)
	if err != nil || c.Source != "web-identity" {
		t.Fatalf("web identity %v %v", c, err)
	}

	name := fmt.Sprintf("go-test/%d", time.Now().UnixNano())
	if _, err := a.SecretCreate(name, "v1", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := a.SecretCreate(name, "v1", ""); !errors.Is(err, ErrExists) {
		t.Fatalf("second create: %v", err)
	}
	if v, err := a.SecretPut(name, "v2"); err != nil || v.VersionID == "" {
		t.Fatalf("put %v %v", v, err)
	}
	if v, err := a.SecretGet(name, ""); err != nil || v != "v2" {
		t.Fatalf("get %q %v", v, err)
	}
	if v, err := a.SecretGet(name, "AWSPREVIOUS"); err != nil || v != "v1" {
		t.Fatalf("get previous %q %v", v, err)
	}
	if d, err := a.SecretDescribe(name); err != nil || d["Name"] != name {
		t.Fatalf("describe %v %v", d, err)
	}
	if err := a.SecretDelete(name, true); err != nil {
		t.Fatal(err)
	}
	_, err = a.SecretGet(name, "")
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeNotFound || e.Reason != "ResourceNotFoundException" {
		t.Fatalf("get deleted: %v", err)
	}
}

func TestServiceAWSEKSAndMetrics(t *testing.T) {
	a := motoAWS(t)
	if _, err := a.EKSDescribeCluster("go-no-such-cluster"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("describe missing: %v", err)
	}
	ns := fmt.Sprintf("Eqops/GoTest%d", time.Now().UnixNano())
	name := fmt.Sprintf("Requests%d", time.Now().UnixNano())
	at := time.Now().Truncate(time.Minute).Add(-time.Minute)
	ms := make([]Metric, 1500)
	for i := range ms {
		ms[i] = Metric{Name: name, Value: 2, Unit: "Count", Timestamp: at,
			Dimensions: map[string]string{"Tenant": "acme"}}
	}
	if err := a.PutMetrics(ns, ms); err != nil {
		t.Fatal(err)
	}
	q := []map[string]any{{"Id": "r", "MetricStat": map[string]any{
		"Metric": map[string]any{"Namespace": ns, "MetricName": name,
			"Dimensions": []map[string]string{{"Name": "Tenant", "Value": "acme"}}},
		"Period": 60, "Stat": "Sum"}}}
	res, err := a.GetMetrics(q, at.Add(-time.Hour), at.Add(2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	vals, _ := res[0]["Values"].([]any)
	sum := 0.0
	for _, v := range vals {
		sum += v.(float64)
	}
	if sum != 3000 {
		t.Fatalf("sum %v: %v", sum, res)
	}
	u, err := a.Presign("GET", os.Getenv("EQOPS_TEST_AWS_ENDPOINT")+"/?Action=GetCallerIdentity&Version=2011-06-15", "sts", time.Minute)
	if err != nil || !strings.Contains(u, "X-Amz-Expires=60") {
		t.Fatalf("presign %s %v", u, err)
	}
}
