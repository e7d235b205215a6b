package harness

import (
	"os/exec"
	"syscall"
)

// setProcAttrs makes the kernel kill the child when the test process dies, so
// an aborted `go test` leaves no server behind.
func setProcAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
