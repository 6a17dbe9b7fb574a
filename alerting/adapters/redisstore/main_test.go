package redisstore_test

import (
	"flag"
	"os"
	"testing"

	"github.com/truceline/truceline/alerting/alertingtest"
)

func TestMain(m *testing.M) {
	flag.Parse()
	// Each test waits on its own redis-server as much as it computes.
	alertingtest.Parallel(4)
	os.Exit(m.Run())
}
