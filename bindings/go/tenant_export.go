package eqops

// #include <stdint.h>
// #include <stddef.h>
import "C"

//export eqopsGoTenantProgress
func eqopsGoTenantProgress(tenant, cluster, step, status *C.char, done, total C.size_t, id C.uintptr_t) C.int {
	if deliverTenantProgress(C.GoString(tenant), C.GoString(cluster), C.GoString(step),
		C.GoString(status), int(done), int(total), uint64(id)) {
		return 1
	}
	return 0
}
