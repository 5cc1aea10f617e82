package eqops

import (
	"encoding/json"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"eqops/internal/raw"
)

// K8sOptions configure a Kubernetes client; zero values take the defaults of eqops/k8s.h
// (KUBECONFIG or ~/.kube/config, the current context, 50 requests per second).
type K8sOptions struct {
	Kubeconfig        string // one path (kubectl --kubeconfig); default KUBECONFIG's list
	Context           string
	InCluster         bool
	Namespace         string  // the default namespace
	QPS               float64 // requests per second; -1: no limit
	Burst             int
	Timeout           time.Duration // per request
	MaxRetries        int
	ExecTimeout       time.Duration // exec credential plugins
	FieldManager      string        // server-side apply; default "libeqops"
	ImpersonateUser   string
	ImpersonateGroups []string
	// Cancel, when set, is checked by every request of the client (between steps, in transfers and
	// queries, and in retry waits); once triggered the call returns an *Error with
	// CodeCanceled. It must stay open while used.
	Cancel *CancelToken
}

// K8s is a client for one cluster. Its methods may be called from several goroutines (they
// take turns; a Watch holds the client while it runs). Close it when done; a finalizer closes
// it otherwise.
type K8s struct {
	owned[raw.Struct_SS_eqops_k8s]
	aws    *AWS         // an EKS client's token source, kept alive
	cancel *CancelToken // the options' token, kept alive
}

// NewK8s makes a client from the kubeconfig files (or the in-cluster configuration).
func NewK8s(o K8sOptions) (*K8s, error) {
	groups, err := lines(o.ImpersonateGroups, "ImpersonateGroups")
	if err != nil {
		return nil, err
	}
	token, err := cancelHandle(o.Cancel, "Cancel")
	if err != nil {
		return nil, err
	}
	var h raw.Struct_SS_eqops_k8s
	if err := call(func(e raw.Eqops_error) int {
		h = raw.Eqops_bind_k8s_new(o.Kubeconfig, o.Context, b2i(o.InCluster), o.Namespace, o.QPS,
			o.Burst, o.Timeout.Milliseconds(), o.MaxRetries, o.ExecTimeout.Milliseconds(),
			o.FieldManager, o.ImpersonateUser, groups, token, e)
		return e.GetCode()
	}); err != nil {
		return nil, err
	}
	k := &K8s{cancel: o.Cancel}
	k.set(h)
	runtime.SetFinalizer(k, (*K8s).Close)
	return k, nil
}

// NewEKSK8s makes a client for an EKS cluster: endpoint and CA from DescribeCluster, tokens from
// aws (renewed before they expire). Only Namespace, QPS, Burst, Timeout, MaxRetries,
// FieldManager and Cancel of o apply (DescribeCluster is aws's call: its own token stops it).
func NewEKSK8s(aws *AWS, cluster string, o K8sOptions) (*K8s, error) {
	token, err := cancelHandle(o.Cancel, "Cancel")
	if err != nil {
		return nil, err
	}
	var h raw.Struct_SS_eqops_k8s
	err = aws.with(func(ah raw.Struct_SS_eqops_aws) error {
		return call(func(e raw.Eqops_error) int {
			h = raw.Eqops_bind_k8s_new_eks(ah, cluster, o.Namespace, o.QPS, o.Burst,
				o.Timeout.Milliseconds(), o.MaxRetries, o.FieldManager, token, e)
			return e.GetCode()
		})
	})
	if err != nil {
		return nil, err
	}
	k := &K8s{aws: aws, cancel: o.Cancel}
	k.set(h)
	runtime.SetFinalizer(k, (*K8s).Close)
	return k, nil
}

// Close releases the client.
func (k *K8s) Close() {
	if k == nil {
		return
	}
	k.release(raw.Eqops_k8s_free)
}

func (k *K8s) with(fn func(h raw.Struct_SS_eqops_k8s) error) error {
	return k.use("k8s", "k8s: the client is closed", fn)
}

func (k *K8s) str(fn func(out *string, h raw.Struct_SS_eqops_k8s, e raw.Eqops_error) int) (string, error) {
	var out string
	err := k.with(func(h raw.Struct_SS_eqops_k8s) error {
		return call(func(e raw.Eqops_error) int { return fn(&out, h, e) })
	})
	return out, err
}

func decode[T any](text string, err error) (T, error) {
	var v T
	if err != nil {
		return v, err
	}
	if jerr := json.Unmarshal([]byte(text), &v); jerr != nil {
		return v, &Error{Code: CodeProtocol, Message: "k8s: unreadable answer: " + jerr.Error()}
	}
	return v, nil
}

// Object is an unstructured Kubernetes object.
type Object = map[string]any

func objectText(obj any) (string, error) {
	if s, ok := obj.(string); ok {
		return s, nil
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return "", &Error{Code: CodeInvalid, Field: "object", Message: "k8s: object: " + err.Error()}
	}
	return string(b), nil
}

func (k *K8s) accessor(fn func(h raw.Struct_SS_eqops_k8s) string) string {
	var s string
	_ = k.with(func(h raw.Struct_SS_eqops_k8s) error { s = fn(h); return nil })
	return s
}

// Server is the API server's URL.
func (k *K8s) Server() string { return k.accessor(raw.Eqops_k8s_server) }

// Context is the kubeconfig context ("" in-cluster or for EKS).
func (k *K8s) Context() string { return k.accessor(raw.Eqops_k8s_context) }

// Namespace is the default namespace.
func (k *K8s) Namespace() string { return k.accessor(raw.Eqops_k8s_namespace) }

// K8sContexts lists the contexts of the merged kubeconfig ("" : the default files).
func K8sContexts(kubeconfig string) (Object, error) {
	var out string
	err := call(func(e raw.Eqops_error) int { return raw.Eqops_k8s_contexts(&out, kubeconfig, e) })
	return decode[Object](out, err)
}

// Get reads one object (ErrNotFound when there is none). ns "": the default namespace.
func (k *K8s) Get(apiVersion, kind, ns, name string) (Object, error) {
	return decode[Object](k.str(func(out *string, h raw.Struct_SS_eqops_k8s, e raw.Eqops_error) int {
		return raw.Eqops_k8s_get(out, h, apiVersion, kind, ns, name, e)
	}))
}

// ListOptions select objects.
type ListOptions struct {
	LabelSelector, FieldSelector string
	Limit                        int64 // page size
	AllNamespaces                bool
}

// List reads every object (all pages).
func (k *K8s) List(apiVersion, kind, ns string, o ListOptions) ([]Object, error) {
	doc, err := decode[struct {
		Items []Object `json:"items"`
	}](k.str(func(out *string, h raw.Struct_SS_eqops_k8s, e raw.Eqops_error) int {
		return raw.Eqops_bind_k8s_list(out, h, apiVersion, kind, ns, o.LabelSelector,
			o.FieldSelector, o.Limit, b2i(o.AllNamespaces), e)
	}))
	return doc.Items, err
}

// Pages calls fn with each page (a list document) until the end or fn returns false.
func (k *K8s) Pages(apiVersion, kind, ns string, o ListOptions, fn func(page Object) bool) error {
	return k.with(func(h raw.Struct_SS_eqops_k8s) error {
		var p raw.Struct_SS_eqops_k8s_pager
		if err := call(func(e raw.Eqops_error) int {
			p = raw.Eqops_bind_k8s_pager_new(h, apiVersion, kind, ns, o.LabelSelector,
				o.FieldSelector, o.Limit, b2i(o.AllNamespaces), e)
			return e.GetCode()
		}); err != nil {
			return err
		}
		defer raw.Eqops_k8s_pager_free(p)
		for {
			var out string
			if err := call(func(e raw.Eqops_error) int { return raw.Eqops_k8s_pager_next(&out, p, e) }); err != nil {
				return err
			}
			if out == "" {
				return nil
			}
			page, err := decode[Object](out, nil)
			if err != nil {
				return err
			}
			if !fn(page) {
				return nil
			}
		}
	})
}

// WriteOptions shape create, replace, apply, ApplyManifest and ApplyPath.
type WriteOptions struct {
	DryRun       bool
	Force        bool   // apply: take fields other managers own
	FieldManager string // default: the client's
	Concurrency  int    // ApplyManifest: objects at once (default 8)
	// Cancel, when set, is checked by this call (instead of the client's token) (between steps, in transfers and
	// queries, and in retry waits); once triggered the call returns an *Error with
	// CodeCanceled. It must stay open while used.
	Cancel *CancelToken
}

func (k *K8s) write(verb string, obj any, o WriteOptions) (string, error) {
	text, err := objectText(obj)
	if err != nil {
		return "", err
	}
	token, err := cancelHandle(o.Cancel, "Cancel")
	defer runtime.KeepAlive(o.Cancel) // C uses it until the call returns
	if err != nil {
		return "", err
	}
	return k.str(func(out *string, h raw.Struct_SS_eqops_k8s, e raw.Eqops_error) int {
		return raw.Eqops_bind_k8s_write(out, h, verb, text, b2i(o.DryRun), b2i(o.Force),
			o.FieldManager, o.Concurrency, token, e)
	})
}

// Create creates obj (a map, a struct or JSON text); ErrExists when it exists.
func (k *K8s) Create(obj any, o WriteOptions) (Object, error) {
	return decode[Object](k.write("create", obj, o))
}

// Replace replaces obj; its metadata.resourceVersion, when set, must be current (ErrConflict).
func (k *K8s) Replace(obj any, o WriteOptions) (Object, error) {
	return decode[Object](k.write("replace", obj, o))
}

// Apply is a server-side apply of obj. A conflict with another manager is ErrConflict, whose
// message names the managers and Field the first field; apply with Force to take them.
func (k *K8s) Apply(obj any, o WriteOptions) (Object, error) {
	return decode[Object](k.write("apply", obj, o))
}

// ApplyManifest applies every object of a manifest (JSON or YAML text with several documents,
// List kinds; or a slice of objects): cluster-scoped objects first, several at once.
func (k *K8s) ApplyManifest(manifest any, o WriteOptions) ([]Object, error) {
	if s, ok := manifest.(string); !ok {
		manifest = Object{"apiVersion": "v1", "kind": "List", "items": manifest}
	} else {
		manifest = s
	}
	return decode[[]Object](k.write("apply_manifest", manifest, o))
}

// ApplyPath applies the manifests at path as `kubectl apply -f PATH [-R]` does: a file, or a
// directory's *.json, *.yaml and *.yml files in name order (recursive: its subdirectories'
// too). Every file is read before anything is sent; nothing to apply is ErrInvalid.
func (k *K8s) ApplyPath(path string, recursive bool, o WriteOptions) ([]Object, error) {
	token, err := cancelHandle(o.Cancel, "Cancel")
	defer runtime.KeepAlive(o.Cancel) // C uses it until the call returns
	if err != nil {
		return nil, err
	}
	return decode[[]Object](k.str(func(out *string, h raw.Struct_SS_eqops_k8s, e raw.Eqops_error) int {
		return raw.Eqops_bind_k8s_apply_path(out, h, path, b2i(recursive), b2i(o.DryRun),
			b2i(o.Force), o.FieldManager, o.Concurrency, token, e)
	}))
}

// Patch applies a JSON merge patch to the named object.
func (k *K8s) Patch(apiVersion, kind, ns, name string, mergePatch any, o WriteOptions) (Object, error) {
	text, err := objectText(mergePatch)
	if err != nil {
		return nil, err
	}
	token, err := cancelHandle(o.Cancel, "Cancel")
	defer runtime.KeepAlive(o.Cancel)
	if err != nil {
		return nil, err
	}
	return decode[Object](k.str(func(out *string, h raw.Struct_SS_eqops_k8s, e raw.Eqops_error) int {
		return raw.Eqops_bind_k8s_patch(out, h, apiVersion, kind, ns, name, text, b2i(o.DryRun),
			o.FieldManager, token, e)
	}))
}

// DeleteOptions shape a delete.
type DeleteOptions struct {
	DryRun            bool
	PropagationPolicy string // "Foreground", "Background", "Orphan"
	ResourceVersion   string // precondition
	UID               string // precondition
	// Cancel, when set, is checked by this call (instead of the client's token); once
	// triggered the call returns an *Error with CodeCanceled. It must stay open while used.
	Cancel *CancelToken
}

// Delete deletes the named object (ErrNotFound when there is none).
func (k *K8s) Delete(apiVersion, kind, ns, name string, o DeleteOptions) error {
	token, err := cancelHandle(o.Cancel, "Cancel")
	defer runtime.KeepAlive(o.Cancel)
	if err != nil {
		return err
	}
	_, err = k.str(func(out *string, h raw.Struct_SS_eqops_k8s, e raw.Eqops_error) int {
		return raw.Eqops_bind_k8s_delete(out, h, apiVersion, kind, ns, name, b2i(o.DryRun),
			o.PropagationPolicy, o.ResourceVersion, o.UID, token, e)
	})
	return err
}

// Resource is what discovery says of a kind: group, version, resource and scope.
func (k *K8s) Resource(apiVersion, kind string) (Object, error) {
	return decode[Object](k.str(func(out *string, h raw.Struct_SS_eqops_k8s, e raw.Eqops_error) int {
		return raw.Eqops_k8s_resource(out, h, apiVersion, kind, e)
	}))
}

// Request sends a raw request (body "" for none) and returns the answer's body.
func (k *K8s) Request(method, path, contentType, body string) (string, error) {
	return k.str(func(out *string, h raw.Struct_SS_eqops_k8s, e raw.Eqops_error) int {
		return raw.Eqops_k8s_request(out, h, method, path, contentType, body, e)
	})
}

// WatchOptions shape a watch.
type WatchOptions struct {
	LabelSelector, FieldSelector string
	AllNamespaces                bool
	ResourceVersion              string // "": list first, existing objects as ADDED
	Bookmarks                    bool
	IdleTimeout                  time.Duration
	Duration                     time.Duration // 0: until fn returns false
	// Cancel, when set, is checked by the watch (instead of the client's token) (between steps, in transfers and
	// queries, and in retry waits); once triggered the call returns an *Error with
	// CodeCanceled. It must stay open while used.
	Cancel *CancelToken
}

type eventFn = func(eventType string, obj Object) bool

// a registered callback, and the panic it raised (re-raised once the C call has returned)
type watchCall struct {
	fn       eventFn
	panicked any
	stopped  bool // fn asked to stop (set on the watch's thread, read after the C call)
}

var (
	eventFns sync.Map // uint64 -> *watchCall
	eventSeq atomic.Uint64
)

// Watch calls fn for every change, in order, until it returns false (Watch then returns nil)
// or Duration ends. It resumes after drops and API server restarts and lists again after a
// 410, reporting the difference. Errors a retry cannot fix (403, 404) end it. The watch holds
// the client: fn must use another client (a call on this one would wait for the watch to
// end). A panic in fn stops the watch and is raised again by Watch.
func (k *K8s) Watch(apiVersion, kind, ns string, o WatchOptions, fn func(eventType string, obj Object) bool) error {
	token, err := cancelHandle(o.Cancel, "Cancel")
	if err != nil {
		return err
	}
	id := eventSeq.Add(1)
	wc := &watchCall{fn: fn}
	eventFns.Store(id, wc)
	defer eventFns.Delete(id)
	defer func() {
		if wc.panicked != nil {
			panic(wc.panicked)
		}
	}()
	err = k.with(func(h raw.Struct_SS_eqops_k8s) error {
		return call(func(e raw.Eqops_error) int {
			return raw.Eqops_bind_k8s_watch(h, apiVersion, kind, ns, o.LabelSelector,
				o.FieldSelector, b2i(o.AllNamespaces), o.ResourceVersion, b2i(o.Bookmarks),
				o.IdleTimeout.Milliseconds(), o.Duration.Milliseconds(), uint64(id), token, e)
		})
	})
	runtime.KeepAlive(o.Cancel)
	if e, ok := err.(*Error); ok && e.Code == CodeCanceled && wc.stopped {
		return nil // stopped by fn, not by a token (the watch's or the client's)
	}
	return err
}

// deliverEvent runs on the watch's thread inside the C call: a panic must not unwind through
// C, so it is caught, the watch stopped, and the panic raised again by Watch.
func deliverEvent(eventType, object string, id uint64) (stop bool) {
	v, ok := eventFns.Load(id)
	if !ok {
		return true
	}
	wc := v.(*watchCall)
	defer func() {
		if p := recover(); p != nil {
			wc.panicked = p
			stop = true
		}
	}()
	var obj Object
	if err := json.Unmarshal([]byte(object), &obj); err != nil {
		obj = Object{"raw": strings.Clone(object)}
	}
	if !wc.fn(eventType, obj) {
		wc.stopped = true
		return true
	}
	return false
}
