"""The seed document's workload pattern: a training job at a low bid, reading a data volume.

Interruptible work may bid below the on-demand threshold: a preemption costs a restart from the
last checkpoint, not a cluster. The job stops billing when its command exits.
"""

import pulumi

from pulumi_flow import DataVolumes, DataVolumesArgs, TrainingJob, TrainingJobArgs

data = DataVolumes("datasets", DataVolumesArgs(volumes={"data": 1000}))

job = TrainingJob("train", TrainingJobArgs(
    command="python train.py --data /data --checkpoints /data/checkpoints",
    instance_type="4xa100",
    max_price_per_hour=9.0,
    volumes=[data.mount("data", "/data")],
    max_run_time_hours=24,
))

pulumi.export("job_id", job.task_id)
pulumi.export("job_status", job.status)
pulumi.export("data_volume", data.volume_ids["data"])
