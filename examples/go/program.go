// The seed's quickstart in Go: one persistent 8xA100 node, its bid left to the on-demand threshold
// unless the stack's config sets `maxPricePerHour`. The flow package is the SDK generated from the
// `flow` provider plugin's schema (sdks/flow: `pulumi-flow sdk --language go --out sdks/flow`).
package main

import (
	"github.com/pulumi-flow/pulumi-flow/sdk/go/flow"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
)

func program(ctx *pulumi.Context) error {
	args := &flow.TrainingClusterArgs{InstanceType: pulumi.String("8xa100")}
	if bid, err := config.TryFloat64(ctx, "maxPricePerHour"); err == nil {
		args.MaxPricePerHour = pulumi.Float64(bid)
	}
	cluster, err := flow.NewTrainingCluster(ctx, "gpu-node", args)
	if err != nil {
		return err
	}
	ctx.Export("taskId", cluster.TaskId)
	ctx.Export("publicIps", cluster.PublicIps)
	ctx.Export("bidPerHour", cluster.MaxPricePerHour)
	return nil
}
