// Package captest checks CAP messages in tests against the OASIS CAP 1.2
// schema (CAP-v1.2.xsd, unchanged, embedded) with xmllint (Debian:
// libxml2-utils).
package captest

import (
	_ "embed"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

//go:embed CAP-v1.2.xsd
var schema []byte

// Validate fails the test unless doc is valid against CAP 1.2. Without
// xmllint the test is skipped, saying why, except in CI (CI=true), where
// a missing xmllint fails it.
func Validate(t testing.TB, doc []byte) {
	t.Helper()
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("xmllint is required to check CAP messages against the schema (Debian: apt-get install libxml2-utils): %v", err)
		}
		t.Skip("xmllint is not installed (Debian: apt-get install libxml2-utils): cannot check CAP messages against the schema")
	}
	dir := t.TempDir()
	xsd, file := filepath.Join(dir, "CAP-v1.2.xsd"), filepath.Join(dir, "alert.xml")
	if err := os.WriteFile(xsd, schema, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(xmllint, "--noout", "--nonet", "--schema", xsd, file).CombinedOutput()
	if err != nil {
		t.Fatalf("the CAP message is not valid CAP 1.2: %v\n%s\n--- message:\n%s", err, out, doc)
	}
}
