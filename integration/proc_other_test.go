//go:build !linux

package integration

import "os/exec"

// killWithParent does nothing outside Linux: a lagscaler started by a test
// binary that is killed keeps running there.
func killWithParent(*exec.Cmd) {}
