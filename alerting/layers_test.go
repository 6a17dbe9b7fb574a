package alerting_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// module is the import path every package of truceline starts with.
const module = "github.com/truceline/truceline/"

// layers is which of truceline's own packages each package may import, as
// docs/ARCHITECTURE.md ("Packages and dependencies") states it: the domain
// imports none of them, an adapter the domain only (the HTTP API also its
// sign-in, the CAP format and the configuration reader), and only the
// wiring imports everything. Test helpers (…test) are not listed: they may
// import what they help to test. A package missing here fails the test, so
// a new one gets its place in the docs too.
var layers = map[string][]string{
	"alerting":                     nil,
	"alerting/adapters/cap":        {"alerting"},
	"alerting/adapters/email":      {"alerting"},
	"alerting/adapters/redisstore": {"alerting"},
	"alerting/adapters/webhook":    {"alerting"},
	"broker":                       {"alerting"},
	"configs":                      {"alerting"},
	"web/auth":                     {"alerting"},
	"web/gateway":                  {"alerting"},
	"web":                          {"alerting", "alerting/adapters/cap", "configs", "web/auth"},
	"cmd/trucectl":                 {"alerting", "alerting/adapters/webhook", "configs"},
	"cmd/truceline/demo":           {"alerting", "alerting/adapters/webhook"},
	"cmd/truceline/app": {"alerting", "alerting/adapters/email", "alerting/adapters/redisstore", "alerting/adapters/webhook", "broker", "configs",
		"web", "web/auth", "web/gateway", "cmd/truceline/demo"},
	"cmd/truceline": {"cmd/truceline/app"},
}

// domainLibraries are the only modules outside the standard library that
// the domain may use: none of them speaks to Redis, NATS, HTTP clients or
// browsers.
var domainLibraries = []string{"github.com/expr-lang/expr", "github.com/golang-jwt/jwt/v5", "github.com/google/uuid",
	"github.com/sony/gobreaker/v2", "golang.org/x/time/rate"}

// TestThePackagesKeepTheirLayers reads every package's imports with go list
// and checks them against layers and domainLibraries.
func TestThePackagesKeepTheirLayers(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "./...")
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], module)
		if strings.HasSuffix(pkg, "test") {
			continue // alertingtest, redistest, natstest, captest, smtptest, openapitest
		}
		if strings.HasPrefix(pkg, "alerting/") && !strings.HasPrefix(pkg, "alerting/adapters/") {
			t.Errorf("package %s sits in the domain's folder: an adapter belongs under alerting/adapters/", pkg)
		}
		allowed, ok := layers[pkg]
		if !ok {
			t.Errorf("package %s has no place in the layers: add it here and to docs/ARCHITECTURE.md", pkg)
			continue
		}
		for _, imp := range fields[1:] {
			if own, ok := strings.CutPrefix(imp, module); ok {
				if !slices.Contains(allowed, own) {
					t.Errorf("%s imports %s, which its layer does not allow", pkg, own)
				}
				continue
			}
			if pkg == "alerting" && strings.Contains(strings.Split(imp, "/")[0], ".") &&
				!slices.ContainsFunc(domainLibraries, func(lib string) bool { return imp == lib || strings.HasPrefix(imp, lib+"/") }) {
				t.Errorf("the domain imports %s, which is not one of its libraries %v", imp, domainLibraries)
			}
		}
	}
}
