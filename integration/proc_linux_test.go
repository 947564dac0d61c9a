//go:build linux

package integration

import (
	"os/exec"
	"syscall"
)

// killWithParent makes Linux send SIGKILL to cmd's process when the test
// binary exits, so a run killed by its timeout leaves no lagscaler behind.
func killWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
