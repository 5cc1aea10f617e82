/*
 * eqops.i - the core SWIG interface shared by the Python and Go bindings.
 *
 * Installed as <includedir>/eqops/swig/eqops.i and included by each language's module file
 * after its %module line. It holds the typemaps every binding relies on:
 *
 *   eqops_error *err   hidden from the target language; a failure becomes a Python exception
 *                      (eqops.Error hierarchy) or, in Go, is read back by the hand-written
 *                      package, which passes its own eqops_error and returns a Go error.
 *   char **out         a new string handed back to the caller and released with eqops_free().
 *   char **secret_out  the same for a secret: the C copy is wiped (eqops_free_secret()).
 *   int64_t *out_ms    an integer result.
 *   eqops_error *perr  the error of a function that returns a pointer (NULL on failure).
 *
 * Each module has its own file (slo.i, pg.i, ...), included at the end.
 *
 * C-only hooks (the allocator, and the raw log callback, which each language wraps in its own
 * way) are not wrapped.
 */

%{
#include <eqops.h>
#include <string.h>
%}

/* libeqops targets LP64 platforms (x86-64, arm64): int64_t is long there */
#define SWIGWORDSIZE64
%include <stdint.i>

%ignore eqops_set_allocator;
%ignore eqops_allocator;
%ignore eqops_set_log;
%ignore eqops_log_fn;
%ignore eqops_free;

/* Errors are filled by the library and read by the bindings, never set from outside. */
%immutable eqops_error::version;
%immutable eqops_error::code;
%immutable eqops_error::http_status;
%immutable eqops_error::retry_after;
%immutable eqops_error::message;
%immutable eqops_error::reason;
%immutable eqops_error::field;
%immutable eqops_error::body;
%immutable eqops_error::body_len;

/* ---- Python ------------------------------------------------------------------------------ */
#ifdef SWIGPYTHON

%{
/* C text as a Python str; bytes that are not UTF-8 are replaced, never an exception. */
static PyObject *eqops_py_str(const char *s)
{
    return PyUnicode_DecodeUTF8(s ? s : "", (Py_ssize_t)(s ? strlen(s) : 0), "replace");
}

/* Raise the eqops.Error subclass for `e` (built by eqops._errors.from_error). */
static void eqops_py_raise(const eqops_error *e)
{
    PyObject *mod = PyImport_ImportModule("eqops._errors");
    PyObject *exc = NULL;
    if (mod != NULL) {
        PyObject *body = e->body ? PyBytes_FromStringAndSize(e->body, (Py_ssize_t)e->body_len)
                                 : (Py_INCREF(Py_None), Py_None);
        PyObject *msg = eqops_py_str(e->message);
        PyObject *reason = eqops_py_str(e->reason);
        PyObject *field = eqops_py_str(e->field);
        if (body != NULL && msg != NULL && reason != NULL && field != NULL)
            exc = PyObject_CallMethod(mod, "from_error", "iOiOOdO", e->code, msg,
                                      e->http_status, reason, field, e->retry_after, body);
        Py_XDECREF(body);
        Py_XDECREF(msg);
        Py_XDECREF(reason);
        Py_XDECREF(field);
        Py_DECREF(mod);
    }
    if (exc != NULL) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    } else if (!PyErr_Occurred()) {
        PyErr_SetString(PyExc_RuntimeError, "libeqops error");
    }
}

/* Replace the C status that heads the result tuple with nothing: Python callers get the
 * outputs (or None), and errors as exceptions. */
static PyObject *eqops_py_drop_status(PyObject *result)
{
    if (result == NULL)
        return NULL;
    if (PyList_Check(result)) {
        Py_ssize_t n = PyList_Size(result);
        PyObject *out;
        if (n == 2) {
            out = PyList_GetItem(result, 1);
            Py_INCREF(out);
        } else {
            out = PyList_GetSlice(result, 1, n);
        }
        Py_DECREF(result);
        return out;
    }
    Py_DECREF(result);
    Py_RETURN_NONE;
}
%}

%typemap(in, numinputs=0) eqops_error *err (eqops_error temp) {
    eqops_error_init(&temp);
    $1 = &temp;
}
%typemap(argout) eqops_error *err {
    if (result < 0) {
        Py_XDECREF($result); /* outputs gathered so far */
        $result = NULL;
        eqops_py_raise($1);
        SWIG_fail;
    }
    $result = eqops_py_drop_status($result);
}
%typemap(freearg) eqops_error *err {
    eqops_error_clear($1);
}

/* functions returning a pointer report failure through `perr` (NULL result) */
%typemap(in, numinputs=0) eqops_error *perr (eqops_error temp) {
    eqops_error_init(&temp);
    $1 = &temp;
}
%typemap(argout) eqops_error *perr {
    if ($1->code != 0) {
        Py_XDECREF($result);
        $result = NULL;
        eqops_py_raise($1);
        SWIG_fail;
    }
}
%typemap(freearg) eqops_error *perr {
    eqops_error_clear($1);
}

%typemap(in, numinputs=0) char **out (char *temp = NULL), char **secret_out (char *temp = NULL) {
    $1 = &temp;
}
%typemap(argout) char **out, char **secret_out {
    if (*$1 != NULL) {
        PyObject *str = eqops_py_str(*$1);
        if (str == NULL)
            SWIG_fail;
        $result = SWIG_Python_AppendOutput($result, str);
    }
}
%typemap(freearg) char **out {
    eqops_free(*$1);
}
%typemap(freearg) char **secret_out {
    eqops_free_secret(*$1);
}

%typemap(in, numinputs=0) int64_t *out_ms (int64_t temp = 0) {
    $1 = &temp;
}
%typemap(argout) int64_t *out_ms {
    $result = SWIG_Python_AppendOutput($result, PyLong_FromLongLong((long long)*$1));
}

#endif /* SWIGPYTHON */

/* ---- Go ---------------------------------------------------------------------------------- */
#ifdef SWIGGO

/* The Go string is cleared first, then set only to a C-allocated copy that goargout moves
 * into Go memory, so Go memory never reaches free(). Pass a pointer to an empty string. */
%typemap(gotype) char **out, char **secret_out "*string"
%typemap(imtype) char **out, char **secret_out "*string"
%typemap(in) char **out (char *temp = NULL), char **secret_out (char *temp = NULL) {
    $input->p = NULL;
    $input->n = 0;
    $1 = &temp;
}
%typemap(argout, fragment="AllocateString") char **out, char **secret_out {
    if (temp$argnum != NULL && temp$argnum[0] != '\0')
        *$input = Swig_AllocateString(temp$argnum, strlen(temp$argnum));
}
%typemap(goargout, fragment="CopyString") char **out, char **secret_out {
    if $input != nil && *$input != "" {
        *$input = swigCopyString(*$input)
    }
}
%typemap(freearg) char **out {
    eqops_free(temp$argnum);
}
%typemap(freearg) char **secret_out {
    eqops_free_secret(temp$argnum);
}

%include <typemaps.i>
%apply long long *OUTPUT { int64_t *out_ms };

#endif /* SWIGGO */

%ignore eqops_cancel_new;
%include "eqops/common.h"

%inline %{
/* A new cancellation token (eqops_cancel_free), or NULL with perr filled. */
eqops_cancel *eqops_bind_cancel_new(eqops_error *perr)
{
    eqops_cancel *c = NULL;
    eqops_cancel_new(&c, perr);
    return c;
}
%}

/* the options structs are not wrapped (the shims build them): neither are their init functions */
%rename("$ignore", regexmatch$name="^eqops_\\w+_options_init$") "";
%ignore eqops_aws_metric_init;

%include "eqops/swig/slo.i"
%include "eqops/swig/pg.i"
%include "eqops/swig/aws.i"
%include "eqops/swig/k8s.i"
%include "eqops/swig/tenant.i"
