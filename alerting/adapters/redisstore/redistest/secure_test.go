package redistest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/truceline/truceline/alerting/adapters/redisstore/redistest"
)

// TestStartWith checks that a secured server lets in only its user, with
// its password, over TLS when asked.
func TestStartWith(t *testing.T) {
	ctx := context.Background()
	for _, o := range []redistest.Options{
		{Password: "pw1"},
		{User: "app", Password: "pw2", ACL: "~tl:* +@all -@dangerous"},
		{User: "app", Password: "pw3", TLS: true},
		{User: "app", Password: "pw4", TLS: true, ClientCerts: true},
	} {
		s := redistest.StartWith(t, o)
		c := s.Client(t)
		if err := c.Set(ctx, "tl:x", "1", 0).Err(); err != nil {
			t.Errorf("%+v: SET as the user: %v", o, err)
		}
		if o.ACL != "" {
			if err := c.Set(ctx, "other", "1", 0).Err(); err == nil || !strings.HasPrefix(err.Error(), "NOPERM") {
				t.Errorf("%+v: SET outside the ACL's keys: %v", o, err)
			}
		}
		opts, err := redis.ParseURL(s.URLWithPassword("wrong"))
		if err != nil {
			t.Fatal(err)
		}
		opts.TLSConfig = s.TLSConfig()
		wrong := redis.NewClient(opts)
		if err := wrong.Ping(ctx).Err(); err == nil {
			t.Errorf("%+v: a wrong password was accepted", o)
		}
		_ = wrong.Close()
		if o.TLS {
			plain := redis.NewClient(&redis.Options{Addr: s.Addr, Username: o.User, Password: o.Password})
			if err := plain.Ping(ctx).Err(); err == nil {
				t.Errorf("%+v: a connection without TLS was accepted", o)
			}
			_ = plain.Close()
		}
	}
}
