"""The `flow` provider plugin: the components and the `Task`/`Volume` custom resources, served over
Pulumi's provider protocol to programs in any language (`pulumi-resource-flow`)."""
