package auth

import (
	"strings"
	"testing"
)

// FuzzVerify feeds arbitrary strings to Verify (SECURITY.md: JWT parsing is
// fuzzed). Nothing may panic, and anything accepted must carry exactly the
// claims of the validly signed seed (base64 padding bits aside, a mutation
// of the seed must not verify).
func FuzzVerify(f *testing.F) {
	p := newIdP(f)
	v := NewVerifier(p.config(), nil)
	good := p.token(f, nil)
	want, err := v.Verify(f.Context(), good)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add(strings.Replace(good, ".", "..", 1))
	f.Add(tamper(f, good))
	f.Add("e30.e30.")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Fuzz(func(t *testing.T, raw string) {
		id, err := v.Verify(t.Context(), raw)
		if err != nil {
			return
		}
		got := *id
		got.Token = want.Token
		if id.Token != raw || got.GoString() != want.GoString() {
			t.Fatalf("accepted %q as %#v", raw, id)
		}
	})
}
