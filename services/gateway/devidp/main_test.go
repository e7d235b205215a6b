package devidp

import (
	"os"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestMain(m *testing.M) {
	bcryptCost = bcrypt.MinCost // the flows, not the work factor, are under test
	os.Exit(m.Run())
}
