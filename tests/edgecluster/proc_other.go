//go:build unix && !linux

package edgecluster

import (
	"os/exec"
	"syscall"
)

// setProcAttrs puts the child in its own process group, so that stopping it
// reaches everything it started. Only Linux can also have the kernel kill it
// when the parent dies.
func setProcAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// signalGroup sends sig to the process group led by pid.
func signalGroup(pid int, sig syscall.Signal) error {
	return syscall.Kill(-pid, sig)
}
