package eqops

// #include <eqops.h>
import "C"

import "unsafe"

//export eqopsGoLog
func eqopsGoLog(level C.eqops_log_level, module, message *C.char, payload unsafe.Pointer) {
	if h, _ := logHandler.Load().(LogHandler); h != nil {
		h(LogLevel(level), C.GoString(module), C.GoString(message))
	}
}
