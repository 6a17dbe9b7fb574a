package main

import (
	"context"
	"strings"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/truceline/truceline/alerting"
)

func healCommand() *cli.Command {
	return &cli.Command{
		Name: "heal",
		Usage: "check Redis against the streams now and heal what it lacks: after loading an older dataset into Redis " +
			"in place, which truceline cannot notice (a restart, a failover or a wipe it heals by itself)",
		Action: func(ctx context.Context, cmd *cli.Command) error {
			c := newClient(cmd)
			c.http.Timeout = 30 * time.Minute // a rebuild of a large store takes a while
			var res alerting.HealResult
			if err := c.do(ctx, "POST", "/api/v1/heal", nil, &res); err != nil {
				return err
			}
			healed := "none"
			if len(res.ZonesHealed) > 0 {
				healed = strings.Join(res.ZonesHealed, ", ")
			}
			restored := ""
			if res.Restored {
				restored = "; configuration, users or tokens restored"
			}
			return emit(cmd, res, "%d zones checked; healed: %s; %d changes redone, %d reports recovered%s; took %d ms\n",
				res.ZonesChecked, healed, res.ChangesRedone, res.ReportsRecovered, restored, res.TookMS)
		},
	}
}
