/*
 * raw.i - the Python module over libeqops' C API (eqops.raw). The friendly API is in
 * eqops/__init__.py; this file adds only what Python needs on top of the shared interface.
 */
%module(package="eqops") raw

%include "eqops/swig/eqops.i"

%{
static PyObject *eqops_py_log_handler;

static void eqops_py_log(eqops_log_level level, const char *module, const char *message,
                         void *payload)
{
    (void)payload;
    PyGILState_STATE st = PyGILState_Ensure();
    if (eqops_py_log_handler != NULL) {
        PyObject *mod = eqops_py_str(module), *msg = eqops_py_str(message);
        PyObject *r = mod && msg ? PyObject_CallFunction(eqops_py_log_handler, "iOO", (int)level,
                                                         mod, msg)
                                 : NULL;
        if (r == NULL)
            PyErr_WriteUnraisable(eqops_py_log_handler);
        Py_XDECREF(r);
        Py_XDECREF(mod);
        Py_XDECREF(msg);
    }
    PyGILState_Release(st);
}
%}

/* It touches Python objects, so it must keep the GIL (-threads releases it elsewhere). */
%nothread set_log_handler;

%inline %{
/* Route libeqops log lines to a Python callable(level, module, message); None silences. */
void set_log_handler(PyObject *handler, int max_level)
{
    if (handler == Py_None) {
        eqops_set_log(NULL, EQOPS_LOG_NONE, NULL);
        Py_CLEAR(eqops_py_log_handler);
        return;
    }
    Py_INCREF(handler);
    Py_XSETREF(eqops_py_log_handler, handler);
    eqops_set_log(eqops_py_log, (eqops_log_level)max_level, NULL);
}
%}

%{
/* The fleet migration's progress, on the calling thread (which released the GIL). The
 * callable is eqops.pg's wrapper: it never raises, and returns True to stop. */
static int eqops_py_pg_progress(const char *database, const char *status, size_t done,
                                size_t total, void *payload)
{
    PyGILState_STATE st = PyGILState_Ensure();
    PyObject *db = eqops_py_str(database), *stat = eqops_py_str(status);
    PyObject *r = db && stat ? PyObject_CallFunction((PyObject *)payload, "OOnn", db, stat,
                                                     (Py_ssize_t)done, (Py_ssize_t)total)
                             : NULL;
    int stop = r == NULL || PyObject_IsTrue(r) == 1;
    if (r == NULL)
        PyErr_WriteUnraisable((PyObject *)payload);
    Py_XDECREF(r);
    Py_XDECREF(db);
    Py_XDECREF(stat);
    PyGILState_Release(st);
    return stop;
}
%}

%inline %{
/* progress: None or a callable(database, status, done, total) -> stop */
int eqops_bind_pg_migrate(char **out, eqops_pg *pg, const char *migrations_dir,
                          int concurrency, int canary, int continue_on_error, int dry_run,
                          int skip_template, const char *tenants, long lock_wait_ms,
                          long lock_timeout_ms, long statement_timeout_ms, PyObject *progress,
                          eqops_cancel *cancel, eqops_error *err)
{
    return eqops_bind_pg_migrate_fn(out, pg, migrations_dir, concurrency, canary,
                                    continue_on_error, dry_run, skip_template, tenants,
                                    lock_wait_ms, lock_timeout_ms, statement_timeout_ms,
                                    progress == Py_None ? NULL : eqops_py_pg_progress, progress,
                                    cancel, err);
}
%}

%{
/* A watch event, on the calling thread (which released the GIL). The callable is
 * eqops.k8s's wrapper: it never raises, and returns True to stop. */
static int eqops_py_k8s_event(const char *type, const char *object, void *payload)
{
    PyGILState_STATE st = PyGILState_Ensure();
    PyObject *t = eqops_py_str(type), *o = eqops_py_str(object);
    PyObject *r = t && o ? PyObject_CallFunction((PyObject *)payload, "OO", t, o) : NULL;
    int stop = r == NULL || PyObject_IsTrue(r) == 1;
    if (r == NULL)
        PyErr_WriteUnraisable((PyObject *)payload);
    Py_XDECREF(r);
    Py_XDECREF(t);
    Py_XDECREF(o);
    PyGILState_Release(st);
    return stop;
}
%}

%inline %{
/* fn: a callable(type, object) -> stop */
int eqops_bind_k8s_watch(eqops_k8s *k, const char *api_version, const char *kind,
                         const char *ns, const char *label_selector,
                         const char *field_selector, int all_namespaces,
                         const char *resource_version, int bookmarks, long idle_timeout_ms,
                         long duration_ms, PyObject *fn, eqops_cancel *cancel,
                         eqops_error *err)
{
    return eqops_bind_k8s_watch_fn(k, api_version, kind, ns, label_selector, field_selector,
                                   all_namespaces, resource_version, bookmarks, idle_timeout_ms,
                                   duration_ms, eqops_py_k8s_event, fn, cancel, err);
}
%}

%{
/* A tenant operation's progress, on the calling thread (which released the GIL; the library
 * brings its workers' events there). The callable is eqops.tenant's wrapper: it never raises,
 * and returns True to stop. */
static int eqops_py_tenant_progress(const char *tenant, const char *cluster, const char *step,
                                    const char *status, size_t done, size_t total,
                                    void *payload)
{
    PyGILState_STATE st = PyGILState_Ensure();
    PyObject *t = eqops_py_str(tenant), *c = eqops_py_str(cluster), *s = eqops_py_str(step),
             *u = eqops_py_str(status);
    PyObject *r = t && c && s && u
                      ? PyObject_CallFunction((PyObject *)payload, "OOOOnn", t, c, s, u,
                                              (Py_ssize_t)done, (Py_ssize_t)total)
                      : NULL;
    int stop = r == NULL || PyObject_IsTrue(r) == 1;
    if (r == NULL)
        PyErr_WriteUnraisable((PyObject *)payload);
    Py_XDECREF(r);
    Py_XDECREF(t);
    Py_XDECREF(c);
    Py_XDECREF(s);
    Py_XDECREF(u);
    PyGILState_Release(st);
    return stop;
}
%}

%inline %{
/* progress: None or a callable(tenant, cluster, step, status, done, total) -> stop */
int eqops_bind_tenant_run(char **out, size_t *drifted, eqops_tenant_env *env,
                          const char *operation, const char *spec, const char *confirm,
                          int rotate_password, int cluster_parallel, PyObject *progress,
                          eqops_cancel *cancel, eqops_error *err)
{
    return eqops_bind_tenant_run_fn(out, drifted, env, operation, spec, confirm, rotate_password,
                                    cluster_parallel,
                                    progress == Py_None ? NULL : eqops_py_tenant_progress,
                                    progress, cancel, err);
}

int eqops_bind_tenant_fleet(char **out, size_t *failed, eqops_tenant_env *env,
                            const char *operation, const char *dir, const char *confirm,
                            int rotate_password, int cluster_parallel, PyObject *progress,
                            eqops_cancel *cancel, eqops_error *err)
{
    return eqops_bind_tenant_fleet_fn(out, failed, env, operation, dir, confirm, rotate_password,
                                      cluster_parallel,
                                      progress == Py_None ? NULL : eqops_py_tenant_progress,
                                      progress, cancel, err);
}
%}
