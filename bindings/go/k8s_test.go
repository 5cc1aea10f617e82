package eqops

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A kubeconfig in dir whose server nobody listens at, and a client from it.
func offlineK8s(t *testing.T, dir string) (string, *K8s) {
	t.Helper()
	kc := filepath.Join(dir, "config")
	text := `{"clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
"users": [{"name": "u", "user": {"token": "t"}}],
"contexts": [{"name": "x", "context": {"cluster": "c", "user": "u", "namespace": "ns1"}}],
"current-context": "x"}`
	if err := os.WriteFile(kc, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := NewK8s(K8sOptions{Kubeconfig: kc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)
	return kc, k
}

func TestK8sConfigErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := NewK8s(K8sOptions{Kubeconfig: filepath.Join(dir, "missing")}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing kubeconfig: %v", err)
	}
	kc, k := offlineK8s(t, dir)
	if k.Server() != "https://127.0.0.1:1" || k.Context() != "x" || k.Namespace() != "ns1" {
		t.Fatalf("%s %s %s", k.Server(), k.Context(), k.Namespace())
	}
	ctx, err := K8sContexts(kc)
	if err != nil || ctx["current"] != "x" {
		t.Fatalf("contexts %v %v", ctx, err)
	}
	if _, err := NewK8s(K8sOptions{Kubeconfig: kc, Context: "nope"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown context: %v", err)
	}
	if _, err := k.Get("v1", "ConfigMap", "", "../x"); !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnavailable) {
		t.Fatalf("bad name: %v", err)
	}
}

// Nothing to apply is an error found before any request (nothing listens at the server).
func TestK8sApplyPathNothing(t *testing.T) {
	dir := t.TempDir()
	_, k := offlineK8s(t, dir)
	manifests := filepath.Join(dir, "manifests")
	if err := os.MkdirAll(filepath.Join(manifests, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	var e *Error
	if _, err := k.ApplyPath(manifests, true, WriteOptions{}); !errors.As(err, &e) ||
		e.Code != CodeInvalid || e.Field != "path" {
		t.Fatalf("empty directory: %v", err)
	}
	empty := filepath.Join(manifests, "sub", "empty.yml")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := k.ApplyPath(manifests, false, WriteOptions{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("no -R: %v", err)
	}
	if _, err := k.ApplyPath(manifests, true, WriteOptions{}); !errors.Is(err, ErrInvalid) ||
		!strings.Contains(err.Error(), "no objects passed to apply") {
		t.Fatalf("empty file: %v", err)
	}
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := exec.Command("mkfifo", fifo).Run(); err != nil {
		t.Fatal(err)
	}
	t.Setenv("EQOPS_FIFO_WAIT", "1") // a FIFO without a writer: no data within 1 s
	if _, err := k.ApplyPath(fifo, false, WriteOptions{}); !errors.Is(err, ErrTimeout) ||
		!strings.Contains(err.Error(), "no data from FIFO") {
		t.Fatalf("fifo: %v", err)
	}
	if _, err := k.ApplyManifest("", WriteOptions{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty manifest: %v", err)
	}
}

func k8sAdmin(t *testing.T) *K8s {
	t.Helper()
	kc := os.Getenv("EQOPS_TEST_K8S_KUBECONFIG")
	if kc == "" {
		if os.Getenv("EQOPS_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("EQOPS_TEST_K8S_KUBECONFIG is not set: scripts/testenv up k8s")
		}
		t.Skip("no test cluster: scripts/testenv up k8s; eval \"$(scripts/testenv env)\"")
	}
	k, err := NewK8s(K8sOptions{Kubeconfig: kc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)
	return k
}

func TestServiceK8s(t *testing.T) {
	k := k8sAdmin(t)
	ns := fmt.Sprintf("go-%d", time.Now().UnixNano()%1000000000)
	if _, err := k.Apply(Object{"apiVersion": "v1", "kind": "Namespace",
		"metadata": Object{"name": ns}}, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	defer k.Delete("v1", "Namespace", "", ns, DeleteOptions{})
	objs := []Object{}
	for i := 0; i < 12; i++ {
		objs = append(objs, Object{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": Object{"name": fmt.Sprintf("c%02d", i), "namespace": ns,
				"labels": Object{"go": "yes"}}, "data": Object{"v": "1"}})
	}
	applied, err := k.ApplyManifest(objs, WriteOptions{Concurrency: 3})
	if err != nil || len(applied) != 12 {
		t.Fatalf("manifest %d %v", len(applied), err)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	for name, cm := range map[string]string{"a.yaml": "pa", "sub/b.json": "pb", "notes.txt": "px"} {
		text := fmt.Sprintf(`{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": %q, "namespace": %q}}`, cm, ns)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	fromDir, err := k.ApplyPath(dir, true, WriteOptions{})
	if err != nil || len(fromDir) != 2 {
		t.Fatalf("apply path %v %v", fromDir, err)
	}
	if fromDir[1]["metadata"].(map[string]any)["name"] != "pb" { // "sub" after "a.yaml"
		t.Fatalf("apply path order %v", fromDir)
	}
	pages := 0
	if err := k.Pages("v1", "ConfigMap", ns, ListOptions{LabelSelector: "go=yes", Limit: 5},
		func(Object) bool { pages++; return true }); err != nil || pages != 3 {
		t.Fatalf("pages %d %v", pages, err)
	}
	list, err := k.List("v1", "ConfigMap", ns, ListOptions{LabelSelector: "go=yes"})
	if err != nil || len(list) != 12 {
		t.Fatalf("list %d %v", len(list), err)
	}
	_, err = k.Apply(Object{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": Object{"name": "c00", "namespace": ns}, "data": Object{"v": "2"}},
		WriteOptions{FieldManager: "other"})
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeConflict || e.Field != ".data.v" {
		t.Fatalf("conflict: %v", err)
	}
	if _, err := k.Patch("v1", "ConfigMap", ns, "c00", Object{"data": Object{"w": "x"}}, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	events := 0
	if err := k.Watch("v1", "ConfigMap", ns, WatchOptions{LabelSelector: "go=yes", Duration: 30 * time.Second},
		func(eventType string, obj Object) bool {
			events++
			return events < 12 // stop after the existing ones
		}); err != nil || events != 12 {
		t.Fatalf("watch %d %v", events, err)
	}
	func() { // a panic in the callback comes back out of Watch, and the client still works
		defer func() {
			if p := recover(); p != "from the callback" {
				t.Fatalf("recovered %v", p)
			}
		}()
		_ = k.Watch("v1", "ConfigMap", ns, WatchOptions{Duration: 10 * time.Second},
			func(string, Object) bool { panic("from the callback") })
	}()
	if v, err := k.Request("GET", "/version", "", ""); err != nil || !strings.Contains(v, "gitVersion") {
		t.Fatalf("version %q %v", v, err)
	}
	if r, err := k.Resource("apps/v1", "Deployment"); err != nil || r["resource"] != "deployments" {
		t.Fatalf("resource %v %v", r, err)
	}
	if err := k.Delete("v1", "ConfigMap", ns, "c00", DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Get("v1", "ConfigMap", ns, "c00"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get deleted: %v", err)
	}
}

func TestServiceK8sEKS(t *testing.T) {
	a := motoAWS(t)
	name := fmt.Sprintf("go-k8s-%d", time.Now().UnixNano()%1000000000)
	cmd := exec.Command("aws", "eks", "create-cluster", "--region", "eu-west-1", "--name", name,
		"--role-arn", "arn:aws:iam::123456789012:role/eks", "--resources-vpc-config",
		"subnetIds=subnet-1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("create-cluster: %v %s", err, out)
	}
	c, err := a.EKSDescribeCluster(name)
	if err != nil {
		t.Fatal(err)
	}
	k, err := NewEKSK8s(a, name, K8sOptions{Namespace: "tenants"})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if k.Server() != c.Endpoint || k.Namespace() != "tenants" {
		t.Fatalf("server %s namespace %s", k.Server(), k.Namespace())
	}
	// the client's token: triggered, a request stops before it is sent
	tok, err := NewCancelToken()
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	kc, err := NewEKSK8s(a, name, K8sOptions{Cancel: tok})
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	tok.Trigger()
	if _, err := kc.Request("GET", "/version", "", ""); !errors.Is(err, ErrCanceled) {
		t.Fatalf("want cancelled, got %v", err)
	}
}
