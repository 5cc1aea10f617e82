package eqops

// #include <stdint.h>
// #include <stddef.h>
import "C"

//export eqopsGoPgProgress
func eqopsGoPgProgress(database, status *C.char, done, total C.size_t, id C.uintptr_t) C.int {
	f, ok := progressFns.Load(uint64(id))
	if !ok {
		return 0
	}
	if f.(progressFn)(C.GoString(database), C.GoString(status), int(done), int(total)) {
		return 1
	}
	return 0
}
