// The smallest libeqops program in Go: versions, a duration, an error checked with errors.Is.
package main

import (
	"errors"
	"fmt"
	"os"

	"eqops"
)

func main() {
	window := "30d"
	if len(os.Args) > 1 {
		window = os.Args[1]
	}
	fmt.Println("libeqops", eqops.Version())
	d, err := eqops.ParseDuration(window)
	if errors.Is(err, eqops.ErrInvalid) {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
	s, _ := eqops.FormatDuration(d)
	fmt.Printf("window %s = %d ms = %s\n", window, d.Milliseconds(), s)
}
