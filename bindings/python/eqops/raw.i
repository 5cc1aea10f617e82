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
