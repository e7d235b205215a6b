package edgecluster

import (
	"os/exec"
	"syscall"
)

// setProcAttrs puts the child in its own process group, so that stopping it
// reaches everything it started, and makes the kernel kill it when the
// process that started it dies, so an aborted `go test` leaves no
// kube-apiserver behind.
func setProcAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// signalGroup sends sig to the process group led by pid.
func signalGroup(pid int, sig syscall.Signal) error {
	return syscall.Kill(-pid, sig)
}
