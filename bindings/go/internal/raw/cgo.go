// Package raw is the SWIG-generated layer over libeqops. Use package eqops instead.
package raw

// #cgo pkg-config: eqops
import "C"
