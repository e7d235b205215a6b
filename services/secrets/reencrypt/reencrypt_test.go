package reencrypt

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestKeyID(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		id   uint32
		ok   bool
	}{
		{"tink prefix", []byte{0x01, 0x12, 0x34, 0x56, 0x78, 0xaa}, 0x12345678, true},
		{"prefix only", []byte{0x01, 0, 0, 0, 7}, 7, true},
		{"too short", []byte{0x01, 0, 0, 7}, 0, false},
		{"legacy placeholder", []byte("plain0\x00aad\x00value"), 0, false},
		{"crunchy prefix", []byte{0x00, 0, 0, 0, 7, 1}, 0, false},
		{"empty", nil, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, ok := KeyID(tc.in)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.id, id)
		})
	}
}
