// Package httpx holds the HTTP plumbing shared by every Edgeway listener:
// problem+json error rendering (the one place errors become statuses),
// request ids, access logging and request metrics.
package httpx
