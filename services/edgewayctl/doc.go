// Command edgewayctl is Edgeway's command-line client.
//
// It reads emcoctl-style resource files (apply, update, get, delete -f FILE
// with -v VALUES), logs a person in through the server's OIDC provider
// (device flow or browser with PKCE; tokens cached with mode 0600 and
// refreshed) or uses a CI client's credentials (EDGEWAY_CLIENT_ID and
// EDGEWAY_CLIENT_SECRET), shows the live status of a deployment intent
// group (status --watch), and rolls a file out for CI (rollout --wait, exit
// 0 ready, 1 failed, 2 timed out). See docs/cli.md.
package main
