// Package ratelimit keeps one token bucket (golang.org/x/time/rate) per key
// — an identity, a client address, a calling service — so one tenant's
// flood does not starve another. Idle buckets are forgotten.
package ratelimit
