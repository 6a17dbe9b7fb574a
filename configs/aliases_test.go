package configs_test

import (
	"strings"
	"testing"

	"github.com/truceline/truceline/configs"
)

// laughs is the "billion laughs" document: levels of anchors, each alias
// list nine of the level below; 426 bytes that expand to 9^levels values.
func laughs(levels int) string {
	var b strings.Builder
	b.WriteString("a0: &a0 [\"lol\"]\n")
	for i := 1; i <= levels; i++ {
		b.WriteString("a" + itoa(i) + ": &a" + itoa(i) + " [")
		for j := range 9 {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + itoa(i-1))
		}
		b.WriteString("]\n")
	}
	return b.String()
}

func itoa(i int) string { return string(rune('0' + i)) }

// TestAliasesCannotExplode: nested anchors that would expand to billions of
// values are refused before anything is decoded, in every YAML input; a
// few aliases as people use them pass.
func TestAliasesCannotExplode(t *testing.T) {
	t.Parallel()
	for _, levels := range []int{6, 9} {
		doc := laughs(levels)
		if err := configs.CheckAliases([]byte(doc)); err == nil || !strings.Contains(err.Error(), "aliases expand to more than") {
			t.Errorf("%d levels of nested aliases (%d bytes): %v, want refused", levels, len(doc), err)
		}
		_, err := configs.Parse("laughs.yaml", []byte("kind: Config\n"+doc))
		if err == nil || !strings.Contains(err.Error(), "aliases expand to more than") {
			t.Errorf("Parse of %d levels: %v, want refused", levels, err)
		}
	}
	if err := configs.CheckAliases([]byte("a: &self [*self]\n")); err == nil {
		t.Error("an alias within its own anchor passed")
	}
	ok := "defaults: &defaults {severity: high, policy: standard}\nrules:\n  - {<<: *defaults, name: one}\n  - {<<: *defaults, name: two}\n"
	if err := configs.CheckAliases([]byte(ok)); err != nil {
		t.Errorf("two merges of a small anchor: %v", err)
	}
	if err := configs.CheckAliases([]byte(laughs(3))); err != nil {
		t.Errorf("three levels (729 values): %v", err)
	}
}
