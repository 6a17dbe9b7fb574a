package auth

import (
	"context"
	"slices"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/truceline/truceline/alerting"
)

// oneUser is a Store with one user and nowhere to keep sessions.
type oneUser struct{ u *alerting.User }

func (s oneUser) User(_ context.Context, name string) (*alerting.User, error) {
	if name != s.u.Name {
		return nil, alerting.Errorf(alerting.ENOTFOUND, "no user %s", name)
	}
	c := *s.u
	return &c, nil
}
func (oneUser) Token(context.Context, string) (*alerting.Token, error) { return nil, nil }
func (oneUser) PutSession(context.Context, string, *alerting.Session) error {
	return nil
}
func (oneUser) Session(context.Context, string) (*alerting.Session, error) { return nil, nil }
func (oneUser) DeleteSession(context.Context, string) error                { return nil }

// TestSignInSpendsThePasswordCostWhateverTheStoredHash: a user whose hash
// is cheaper than PasswordCost (the demo's) must not answer sooner than an
// unknown name, or the time would tell which names exist. Every sign-in
// compares at PasswordCost at least once.
func TestSignInSpendsThePasswordCostWhateverTheStoredHash(t *testing.T) {
	cheap, err := HashPasswordCost("demo-duty-password", bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	// The authenticator's cost, above the stored hash's, and below the
	// default, which takes seconds per comparison under the race detector.
	const cost = bcrypt.MinCost + 2
	a, err := New(Options{Store: oneUser{&alerting.User{Name: "duty", Role: alerting.RoleDutyOfficer, PasswordHash: cheap}}, PasswordCost: cost})
	if err != nil {
		t.Fatal(err)
	}
	var costs []int
	compareHash = func(hash, password []byte) error {
		c, _ := bcrypt.Cost(hash)
		costs = append(costs, c)
		return bcrypt.CompareHashAndPassword(hash, password)
	}
	t.Cleanup(func() { compareHash = bcrypt.CompareHashAndPassword })
	for _, try := range []struct {
		user, password string
		ok             bool
	}{{"duty", "wrong password!!", false}, {"nobody", "wrong password!!", false}, {"duty", "demo-duty-password", true}} {
		costs = nil
		_, _, _, err := a.Login(context.Background(), try.user, try.password)
		if (err == nil) != try.ok {
			t.Errorf("sign-in as %s: %v, want success %v", try.user, err, try.ok)
		}
		if len(costs) == 0 || slices.Max(costs) < cost {
			t.Errorf("sign-in as %s compared at costs %v; want one at %d", try.user, costs, cost)
		}
	}
}

// TestPasswordCostIsTheAuthenticatorsOwn: an authenticator hashes at its
// cost, 12 unless told otherwise, and an unknown name costs as much. Two
// low costs show that the cost given is the one used; hashing at 12 twice
// would cost seconds under the race detector and show nothing more.
func TestPasswordCostIsTheAuthenticatorsOwn(t *testing.T) {
	user := oneUser{&alerting.User{Name: "duty", Role: alerting.RoleDutyOfficer}}
	a, err := New(Options{Store: user})
	if err != nil {
		t.Fatal(err)
	}
	if a.o.PasswordCost != PasswordCost {
		t.Errorf("with no cost given the cost is %d, want %d", a.o.PasswordCost, PasswordCost)
	}
	for _, want := range []int{bcrypt.MinCost, bcrypt.MinCost + 1} {
		a, err := New(Options{Store: user, PasswordCost: want})
		if err != nil {
			t.Fatal(err)
		}
		hash, err := a.HashPassword("correct horse battery")
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := bcrypt.Cost([]byte(hash)); got != want {
			t.Errorf("hashed at cost %d, want %d", got, want)
		}
		if got, _ := bcrypt.Cost(a.dummy()); got != want {
			t.Errorf("an unknown name is compared at cost %d, want %d", got, want)
		}
	}
}
