package redisstore_test

import (
	"testing"

	"github.com/truceline/truceline/alerting/alertingtest"
)

// Each test waits on its own redis-server as much as it computes.
func TestMain(m *testing.M) { alertingtest.Run(m, 4) }
