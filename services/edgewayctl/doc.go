// Command edgewayctl is Edgeway's command-line client. This is its
// skeleton: raw GET/DELETE of API paths against --endpoint, trusting
// --ca-file. The emcoctl-compatible apply/update/get/delete -f, login,
// status and rollout commands arrive with the CLI issue.
package main
