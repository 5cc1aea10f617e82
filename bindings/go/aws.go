package eqops

import (
	"encoding/json"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"time"

	"eqops/internal/raw"
)

// AWSCredentials are AWS keys. SecretAccessKey and SessionToken are secrets: String leaves
// them out, so printing AWSCredentials does not leak them.
type AWSCredentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string    // "" for long-term keys
	Expiration      time.Time // zero when they do not expire
	Source          string    // "static", "environment", "profile NAME", "assume-role", ...
}

// String describes the credentials without their secrets.
func (c AWSCredentials) String() string {
	exp := "never"
	if !c.Expiration.IsZero() {
		exp = c.Expiration.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("aws credentials %s from %s (expire %s)", c.AccessKeyID, c.Source, exp)
}

// GoString is String for %#v, which would otherwise print the secret fields.
func (c AWSCredentials) GoString() string { return "eqops." + c.String() }

func msOf(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func timeOf(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// handle makes a C copy of the credentials (free it with raw.Eqops_aws_credentials_free).
func (c *AWSCredentials) handle() (raw.Struct_SS_eqops_aws_credentials, error) {
	var h raw.Struct_SS_eqops_aws_credentials
	err := call(func(e raw.Eqops_error) int {
		h = raw.Eqops_bind_aws_credentials_new(c.AccessKeyID, c.SecretAccessKey, c.SessionToken,
			msOf(c.Expiration), e)
		return e.GetCode()
	})
	return h, err
}

func takeCredentials(h raw.Struct_SS_eqops_aws_credentials) *AWSCredentials {
	defer raw.Eqops_aws_credentials_free(h)
	return &AWSCredentials{
		AccessKeyID:     raw.Eqops_aws_credentials_access_key_id(h),
		SecretAccessKey: raw.Eqops_aws_credentials_secret_access_key(h),
		SessionToken:    raw.Eqops_aws_credentials_session_token(h),
		Expiration:      timeOf(raw.Eqops_aws_credentials_expiration(h)),
		Source:          raw.Eqops_aws_credentials_source(h),
	}
}

// SignOptions choose how a Signer signs (eqops/aws.h, eqops_aws_sign_options).
type SignOptions struct {
	Region           string // required
	Service          string // required: the signing name ("sts", "secretsmanager", "s3")
	Presign          bool   // sign the query string (a presigned URL) instead of headers
	Expires          time.Duration
	S3               bool     // S3's rules
	NoNormalize      bool     // sign the path as given
	SignBody         bool     // add x-amz-content-sha256
	UnsignedPayload  bool     // UNSIGNED-PAYLOAD instead of the body's hash
	OmitSessionToken bool     // send the session token unsigned
	UnsignedHeaders  []string // more header names left unsigned
}

// Header is one HTTP header.
type Header struct {
	Name, Value string
}

// SignedRequest is what a signature produced.
type SignedRequest struct {
	URL              string   // the URL to send (presigned, or as given)
	Headers          []Header // headers to add to the request
	CanonicalRequest string
	StringToSign     string
	Signature        string
}

// String describes the signed request by its signature only: a presigned URL, the headers
// and the canonical request can carry the session token.
func (r SignedRequest) String() string { return "signed request, signature " + r.Signature }

// GoString is String for %#v.
func (r SignedRequest) GoString() string { return "eqops." + r.String() }

// Signer signs requests with SigV4, caching the signing key for the day. Its methods may be
// called from several goroutines (they take turns). Close it when done; a finalizer closes it
// otherwise.
type Signer struct {
	owned[raw.Struct_SS_eqops_aws_signer]
}

// NewSigner makes a signer for these credentials and options.
func NewSigner(c AWSCredentials, o SignOptions) (*Signer, error) {
	names, err := lines(o.UnsignedHeaders, "UnsignedHeaders")
	if err != nil {
		return nil, err
	}
	ch, err := c.handle()
	if err != nil {
		return nil, err
	}
	defer raw.Eqops_aws_credentials_free(ch)
	var h raw.Struct_SS_eqops_aws_signer
	if err := call(func(e raw.Eqops_error) int {
		h = raw.Eqops_bind_aws_signer_new(ch, o.Region, o.Service, b2i(o.Presign),
			int64(o.Expires/time.Second), b2i(o.S3), b2i(o.NoNormalize), b2i(o.SignBody),
			b2i(o.UnsignedPayload), b2i(o.OmitSessionToken), names, e)
		return e.GetCode()
	}); err != nil {
		return nil, err
	}
	s := &Signer{}
	s.set(h)
	runtime.SetFinalizer(s, (*Signer).Close)
	return s, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Close releases the signer.
func (s *Signer) Close() {
	if s == nil {
		return
	}
	s.release(raw.Eqops_aws_signer_free)
}

func headerLines(headers []Header) (string, error) {
	var b strings.Builder
	for i, h := range headers {
		if strings.ContainsAny(h.Name+h.Value, "\r\n") {
			return "", &Error{Code: CodeInvalid, Field: "headers",
				Message: fmt.Sprintf("headers[%d]: a header cannot hold a line break", i)}
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(h.Name + ": " + h.Value)
	}
	return b.String(), nil
}

// Sign signs a request: method, URL (path and query as sent), headers and body, at `at`
// (the zero time: now).
func (s *Signer) Sign(method, url string, headers []Header, body []byte, at time.Time) (*SignedRequest, error) {
	hl, err := headerLines(headers)
	if err != nil {
		return nil, err
	}
	if body == nil {
		body = []byte{}
	}
	var r *SignedRequest
	return r, s.use("signer", "aws: the signer is closed", func(h raw.Struct_SS_eqops_aws_signer) error {
		if err := call(func(e raw.Eqops_error) int {
			return raw.Eqops_bind_aws_signer_sign(h, method, url, hl, body, msOf(at), e)
		}); err != nil {
			return err
		}
		n := raw.Eqops_aws_signer_header_count(h)
		r = &SignedRequest{
			URL:              raw.Eqops_aws_signer_url(h),
			CanonicalRequest: raw.Eqops_aws_signer_canonical_request(h),
			StringToSign:     raw.Eqops_aws_signer_string_to_sign(h),
			Signature:        raw.Eqops_aws_signer_signature(h),
			Headers:          make([]Header, 0, n),
		}
		for i := int64(0); i < int64(n); i++ {
			r.Headers = append(r.Headers, Header{raw.Eqops_aws_signer_header_name(h, i),
				raw.Eqops_aws_signer_header_value(h, i)})
		}
		return nil
	})
}

// AWSOptions configure an AWS client; zero values take the defaults of eqops/aws.h (the
// environment, the shared files, the default credential chain).
type AWSOptions struct {
	Region          string
	Profile         string
	Credentials     *AWSCredentials // instead of the chain
	EndpointURL     string          // every service (e.g. a local moto)
	MaxRetries      int             // retries after the first attempt: 0 = the default (2), -1 = none
	ConnectTimeout  time.Duration
	Timeout         time.Duration // per attempt
	CAFile          string
	ConfigFile      string
	CredentialsFile string
	IMDSEndpoint    string
	// Cancel, when set, is checked by every request of the client (between steps, in transfers and
	// queries, and in retry waits); once triggered the call returns an *Error with
	// CodeCanceled. It must stay open while used.
	Cancel *CancelToken
}

// AWS is a client for one region. Its methods may be called from several goroutines (they
// take turns). Close it when done; a finalizer closes it otherwise.
type AWS struct {
	owned[raw.Struct_SS_eqops_aws]
	cancel *CancelToken // the options' token, kept alive
}

// NewAWS makes a client. Credentials are resolved at the first request.
func NewAWS(o AWSOptions) (*AWS, error) {
	var ch raw.Struct_SS_eqops_aws_credentials
	if o.Credentials != nil {
		var err error
		if ch, err = o.Credentials.handle(); err != nil {
			return nil, err
		}
		defer raw.Eqops_aws_credentials_free(ch)
	}
	token, err := cancelHandle(o.Cancel, "Cancel")
	if err != nil {
		return nil, err
	}
	var h raw.Struct_SS_eqops_aws
	if err := call(func(e raw.Eqops_error) int {
		h = raw.Eqops_bind_aws_new(o.Region, o.Profile, ch, o.EndpointURL, o.MaxRetries,
			o.ConnectTimeout.Milliseconds(), o.Timeout.Milliseconds(), o.CAFile, o.ConfigFile,
			o.CredentialsFile, o.IMDSEndpoint, token, e)
		return e.GetCode()
	}); err != nil {
		return nil, err
	}
	a := &AWS{cancel: o.Cancel}
	a.set(h)
	runtime.SetFinalizer(a, (*AWS).Close)
	return a, nil
}

// Close releases the client.
func (a *AWS) Close() {
	if a == nil {
		return
	}
	a.release(raw.Eqops_aws_free)
}

func (a *AWS) with(fn func(h raw.Struct_SS_eqops_aws) error) error {
	return a.use("aws", "aws: the client is closed", fn)
}

// str runs a library function with a string result.
func (a *AWS) str(fn func(out *string, h raw.Struct_SS_eqops_aws, e raw.Eqops_error) int) (string, error) {
	var out string
	err := a.with(func(h raw.Struct_SS_eqops_aws) error {
		return call(func(e raw.Eqops_error) int { return fn(&out, h, e) })
	})
	return out, err
}

// doc runs a library function with a JSON result and decodes it into v.
func (a *AWS) doc(v any, fn func(out *string, h raw.Struct_SS_eqops_aws, e raw.Eqops_error) int) error {
	out, err := a.str(fn)
	if err != nil {
		return err
	}
	if jerr := json.Unmarshal([]byte(out), v); jerr != nil {
		return &Error{Code: CodeProtocol, Message: "aws: unreadable result: " + jerr.Error()}
	}
	return nil
}

func (a *AWS) creds(fn func(h raw.Struct_SS_eqops_aws, e raw.Eqops_error) raw.Struct_SS_eqops_aws_credentials) (*AWSCredentials, error) {
	var ch raw.Struct_SS_eqops_aws_credentials
	err := a.with(func(h raw.Struct_SS_eqops_aws) error {
		return call(func(e raw.Eqops_error) int {
			ch = fn(h, e)
			return e.GetCode()
		})
	})
	if err != nil {
		return nil, err
	}
	return takeCredentials(ch), nil
}

// Region is the region in use ("" when none was found).
func (a *AWS) Region() string {
	var r string
	_ = a.with(func(h raw.Struct_SS_eqops_aws) error { r = raw.Eqops_aws_region(h); return nil })
	return r
}

// Credentials are those the chain gives now (cached; refreshed when due).
func (a *AWS) Credentials() (*AWSCredentials, error) {
	return a.creds(raw.Eqops_bind_aws_credentials_resolve)
}

// Presign returns a presigned URL for method and url of service, valid for expires (0: 1 h).
func (a *AWS) Presign(method, url, service string, expires time.Duration) (string, error) {
	return a.str(func(out *string, h raw.Struct_SS_eqops_aws, e raw.Eqops_error) int {
		return raw.Eqops_aws_presign(out, h, method, url, service, int64(expires/time.Second), e)
	})
}

// CallerIdentity is who the credentials are.
type CallerIdentity struct {
	Account string `json:"account"`
	ARN     string `json:"arn"`
	UserID  string `json:"user_id"`
}

// CallerIdentity calls STS GetCallerIdentity.
func (a *AWS) CallerIdentity() (*CallerIdentity, error) {
	var who CallerIdentity
	return &who, a.doc(&who, raw.Eqops_aws_sts_caller_identity)
}

// AssumeRole returns temporary credentials for a role (duration 15 min to 12 h; 0: 1 h).
func (a *AWS) AssumeRole(roleARN, sessionName string, duration time.Duration) (*AWSCredentials, error) {
	return a.creds(func(h raw.Struct_SS_eqops_aws, e raw.Eqops_error) raw.Struct_SS_eqops_aws_credentials {
		return raw.Eqops_bind_aws_sts_assume_role(h, roleARN, sessionName, int(duration/time.Second), e)
	})
}

// AssumeRoleWithWebIdentity does the same for an OIDC token (the request is not signed).
func (a *AWS) AssumeRoleWithWebIdentity(roleARN, sessionName, token string, duration time.Duration) (*AWSCredentials, error) {
	return a.creds(func(h raw.Struct_SS_eqops_aws, e raw.Eqops_error) raw.Struct_SS_eqops_aws_credentials {
		return raw.Eqops_bind_aws_sts_assume_role_with_web_identity(h, roleARN, sessionName, token,
			int(duration/time.Second), e)
	})
}

// EKSCluster is the part of EKS DescribeCluster a kubeconfig needs; Raw holds all of it.
type EKSCluster struct {
	Name                 string `json:"name"`
	ARN                  string `json:"arn"`
	Endpoint             string `json:"endpoint"`
	Status               string `json:"status"`
	Version              string `json:"version"`
	CertificateAuthority struct {
		Data string `json:"data"`
	} `json:"certificateAuthority"`
	Raw json.RawMessage `json:"-"`
}

// EKSDescribeCluster describes a cluster (ErrNotFound when there is none).
func (a *AWS) EKSDescribeCluster(name string) (*EKSCluster, error) {
	out, err := a.str(func(out *string, h raw.Struct_SS_eqops_aws, e raw.Eqops_error) int {
		return raw.Eqops_aws_eks_describe_cluster(out, h, name, e)
	})
	if err != nil {
		return nil, err
	}
	c := &EKSCluster{Raw: json.RawMessage(out)}
	if jerr := json.Unmarshal([]byte(out), c); jerr != nil {
		return nil, &Error{Code: CodeProtocol, Message: "aws: unreadable cluster: " + jerr.Error()}
	}
	return c, nil
}

// EKSToken is the bearer token for a cluster's API server and when to renew it. No request is
// made.
func (a *AWS) EKSToken(cluster string) (string, time.Time, error) {
	exp := []int64{0}
	tok, err := a.str(func(out *string, h raw.Struct_SS_eqops_aws, e raw.Eqops_error) int {
		return raw.Eqops_aws_eks_token(out, exp, h, cluster, e)
	})
	return tok, timeOf(exp[0]), err
}

// EKSExecCredential is the ExecCredential JSON a kubeconfig exec plugin prints (apiVersion ""
// for client.authentication.k8s.io/v1beta1).
func (a *AWS) EKSExecCredential(cluster, apiVersion string) (string, error) {
	return a.str(func(out *string, h raw.Struct_SS_eqops_aws, e raw.Eqops_error) int {
		return raw.Eqops_aws_eks_exec_credential(out, h, cluster, apiVersion, e)
	})
}

// SecretVersion identifies what a create or put stored.
type SecretVersion struct {
	ARN       string `json:"arn"`
	Name      string `json:"name"`
	VersionID string `json:"version_id"`
}

// SecretCreate creates a secret with a string value (ErrExists when it exists).
func (a *AWS) SecretCreate(name, value, description string) (*SecretVersion, error) {
	var v SecretVersion
	return &v, a.doc(&v, func(out *string, h raw.Struct_SS_eqops_aws, e raw.Eqops_error) int {
		return raw.Eqops_aws_secret_create(out, h, name, value, description, e)
	})
}

// SecretGet returns the secret's string value (versionStage "": the current one).
func (a *AWS) SecretGet(secretID, versionStage string) (string, error) {
	return a.str(func(out *string, h raw.Struct_SS_eqops_aws, e raw.Eqops_error) int {
		return raw.Eqops_aws_secret_get(out, h, secretID, versionStage, e)
	})
}

// SecretPut stores a new value.
func (a *AWS) SecretPut(secretID, value string) (*SecretVersion, error) {
	var v SecretVersion
	return &v, a.doc(&v, func(out *string, h raw.Struct_SS_eqops_aws, e raw.Eqops_error) int {
		return raw.Eqops_aws_secret_put(out, h, secretID, value, e)
	})
}

// SecretDescribe returns the DescribeSecret answer (no value).
func (a *AWS) SecretDescribe(secretID string) (map[string]any, error) {
	var v map[string]any
	return v, a.doc(&v, func(out *string, h raw.Struct_SS_eqops_aws, e raw.Eqops_error) int {
		return raw.Eqops_aws_secret_describe(out, h, secretID, e)
	})
}

// SecretDelete deletes with a 7-day recovery window, or at once when force.
func (a *AWS) SecretDelete(secretID string, force bool) error {
	return a.with(func(h raw.Struct_SS_eqops_aws) error {
		return call(func(e raw.Eqops_error) int { return raw.Eqops_aws_secret_delete(h, secretID, b2i(force), e) })
	})
}

// Metric is one CloudWatch datum.
type Metric struct {
	Name              string
	Value             float64
	Unit              string            // "Count", "Seconds", ...; "" = None
	Dimensions        map[string]string // at most 30
	Timestamp         time.Time         // zero: now
	StorageResolution int               // 1 (high resolution) or 0/60
}

// PutMetrics sends metrics with PutMetricData in as few requests as the limits allow. Every
// metric is checked before anything is sent.
func (a *AWS) PutMetrics(namespace string, metrics []Metric) error {
	b := raw.Eqops_bind_aws_metrics_new()
	if b == nil {
		return ErrNoMemory
	}
	defer raw.Eqops_bind_aws_metrics_free(b)
	for i, m := range metrics {
		keys := make([]string, 0, len(m.Dimensions))
		for k := range m.Dimensions {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		dims := make([]string, 0, len(keys))
		for _, k := range keys {
			dims = append(dims, k+"="+m.Dimensions[k])
		}
		field := fmt.Sprintf("metrics[%d].dimensions", i)
		dl, err := lines(dims, field)
		if err != nil {
			return err
		}
		if err := call(func(e raw.Eqops_error) int {
			return raw.Eqops_bind_aws_metrics_add(b, m.Name, m.Value, m.Unit, dl, msOf(m.Timestamp),
				m.StorageResolution, e)
		}); err != nil {
			return err
		}
	}
	return a.with(func(h raw.Struct_SS_eqops_aws) error {
		return call(func(e raw.Eqops_error) int { return raw.Eqops_bind_aws_metrics_put(h, namespace, b, e) })
	})
}

// GetMetrics calls GetMetricData: queries is the API's MetricDataQueries (anything that
// marshals to that JSON array); the result is MetricDataResults with every page joined.
func (a *AWS) GetMetrics(queries any, start, end time.Time) ([]map[string]any, error) {
	q, err := json.Marshal(queries)
	if err != nil {
		return nil, &Error{Code: CodeInvalid, Field: "queries", Message: "aws: queries: " + err.Error()}
	}
	var res []map[string]any
	return res, a.doc(&res, func(out *string, h raw.Struct_SS_eqops_aws, e raw.Eqops_error) int {
		return raw.Eqops_aws_metrics_get(out, h, string(q), msOf(start), msOf(end), e)
	})
}
