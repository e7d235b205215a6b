package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// claims is a verified token payload.
type claims map[string]any

func parseClaims(tok *oidc.IDToken) (claims, error) {
	var raw json.RawMessage
	if err := tok.Claims(&raw); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var c claims
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("decoding claims: %w", err)
	}
	return c, nil
}

// checkTimes enforces exp (required), nbf and iat (when present) with leeway.
func (c claims) checkTimes(now time.Time, leeway time.Duration) error {
	exp, ok, err := c.numericDate("exp")
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("token has no exp")
	}
	if now.After(exp.Add(leeway)) {
		return fmt.Errorf("token expired at %s", exp.UTC().Format(time.RFC3339))
	}
	nbf, ok, err := c.numericDate("nbf")
	if err != nil {
		return err
	}
	if ok && now.Add(leeway).Before(nbf) {
		return fmt.Errorf("token not valid before %s", nbf.UTC().Format(time.RFC3339))
	}
	iat, ok, err := c.numericDate("iat")
	if err != nil {
		return err
	}
	if ok && now.Add(leeway).Before(iat) {
		return fmt.Errorf("token issued in the future (%s)", iat.UTC().Format(time.RFC3339))
	}
	return nil
}

// numericDate reads an RFC 7519 NumericDate claim.
func (c claims) numericDate(name string) (time.Time, bool, error) {
	v, ok := c[name]
	if !ok || v == nil {
		return time.Time{}, false, nil
	}
	n, isNum := v.(json.Number)
	if !isNum {
		return time.Time{}, false, fmt.Errorf("claim %s is not a number", name)
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e12 {
		return time.Time{}, false, fmt.Errorf("claim %s is not a valid date", name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true, nil
}

// lookup finds a claim by its literal name or else by a dotted path through
// nested objects.
func (c claims) lookup(name string) (any, bool) {
	if v, ok := c[name]; ok {
		return v, true
	}
	if !strings.Contains(name, ".") {
		return nil, false
	}
	var cur any = map[string]any(c)
	for _, part := range strings.Split(name, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// str returns a string claim, "" when it is absent or not a string.
func (c claims) str(name string) string {
	v, _ := c.lookup(name)
	s, _ := v.(string)
	return s
}

// strs returns a string-list claim; a single string counts as a list of
// one, and non-string elements are dropped.
func (c claims) strs(name string) []string {
	v, _ := c.lookup(name)
	switch t := v.(type) {
	case string:
		return []string{t}
	case []any:
		out := make([]string, 0, len(t))
		for _, e := range t {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
