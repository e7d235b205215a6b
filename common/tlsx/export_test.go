package tlsx

import (
	"path/filepath"
	"time"
)

// IssueLeafForTest issues a certificate for service from the CA in dir,
// valid from notBefore to notAfter, and writes it to dir/<stem>.{crt,key}.
func IssueLeafForTest(dir, service, stem string, notBefore, notAfter time.Time) error {
	ca, err := loadCA(filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key"))
	if err != nil {
		return err
	}
	der, key, err := issueLeaf(ca, serviceSpec(service), notBefore, notAfter)
	if err != nil {
		return err
	}
	return writePair(dir, stem, der, key)
}
