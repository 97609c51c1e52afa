// The seed's complete example in TypeScript: data volumes (1000 GB and 500 GB) and a cluster of four
// 8xA100 bidding $50 per instance-hour, mounting both. `@pulumi-flow/flow` is the SDK generated from the
// `flow` provider plugin's schema (sdks/flow: `pulumi-flow sdk --language nodejs --out sdks/flow`).
import * as pulumi from "@pulumi/pulumi";
import * as flow from "@pulumi-flow/flow";

const config = new pulumi.Config();
const bid = config.getNumber("maxPricePerHour") ?? 50;

const storage = new flow.DataVolumes("storage", {
    volumes: { data: { sizeGb: 1000 }, models: { sizeGb: 500 } },
});

const cluster = new flow.TrainingCluster("gpu-infra", {
    instanceType: "8xa100",
    numInstances: 4,
    maxPricePerHour: bid,
    volumes: [
        { volumeId: storage.volumeIds.apply(ids => ids["data"]), mountPath: "/data" },
        { volumeId: storage.volumeIds.apply(ids => ids["models"]), mountPath: "/mnt/models" },
    ],
});

export const clusterId = cluster.taskId;
export const gpuIps = cluster.publicIps;
export const storageIds = storage.volumeIds;
export const hourlyBid = cluster.hourlyBid;
