package eqops

/*
#cgo pkg-config: eqops
#include <eqops.h>

void eqopsGoLog(eqops_log_level level, char *module, char *message, void *payload);

static void eqops_go_log_trampoline(eqops_log_level level, const char *module,
                                    const char *message, void *payload)
{
    eqopsGoLog(level, (char *)module, (char *)message, payload);
}

static void eqops_go_set_log(eqops_log_level max)
{
    eqops_set_log(max == EQOPS_LOG_NONE ? NULL : eqops_go_log_trampoline, max, NULL);
}
*/
import "C"

import "sync/atomic"

// LogLevel orders library log lines from most to least severe.
type LogLevel int

// Log levels.
const (
	LogNone  LogLevel = 0
	LogError LogLevel = 1
	LogWarn  LogLevel = 2
	LogInfo  LogLevel = 3
	LogDebug LogLevel = 4
	LogTrace LogLevel = 5
)

func (l LogLevel) String() string { return C.GoString(C.eqops_log_level_name(C.eqops_log_level(l))) }

// LogHandler receives one library log line; it may be called from any goroutine or thread
// that calls into libeqops. Lines never contain secrets.
type LogHandler func(level LogLevel, module, message string)

var logHandler atomic.Value // LogHandler

// SetLogHandler sends library log lines up to max to h; a nil h silences the library.
// Set it before starting to use the library from several goroutines.
func SetLogHandler(h LogHandler, max LogLevel) {
	if h == nil {
		max = LogNone
	}
	logHandler.Store(h)
	C.eqops_go_set_log(C.eqops_log_level(max))
}
