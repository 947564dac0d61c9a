// Command stamp prints the build information that the linker flags set. The
// buildinfo tests build it with -X flags and read its output.
package main

import (
	"fmt"

	"github.com/lagscaler/lagscaler/internal/buildinfo"
)

func main() {
	fmt.Println(buildinfo.Version, buildinfo.Commit)
}
