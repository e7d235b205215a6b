// Package watch follows a deployment intent group through Edgeway's
// EMCO-style status query: it merges the deployed status (what the deployer
// did) with the ready status and live detail (what the clusters report)
// into a table of apps × clusters, decides whether the group is ready, still
// progressing or failed — including resources that can never become ready,
// such as a Job with a Failed condition — and renders the table for a
// terminal (redrawn in place, optionally coloured) or as plain lines for
// logs and pipes.
package watch
