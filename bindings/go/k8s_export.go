package eqops

// #include <stdint.h>
import "C"

//export eqopsGoK8sEvent
func eqopsGoK8sEvent(eventType, object *C.char, id C.uintptr_t) C.int {
	if deliverEvent(C.GoString(eventType), C.GoString(object), uint64(id)) {
		return 1
	}
	return 0
}
