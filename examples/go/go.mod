module flow-go-quickstart

go 1.24

require (
	github.com/pulumi-flow/pulumi-flow/sdk/go v0.1.0
	github.com/pulumi/pulumi/sdk/v3 v3.274.1
)

// The SDK `pulumi package add` (or scripts/gen-sdk) generates from the plugin's schema.
replace github.com/pulumi-flow/pulumi-flow/sdk/go => ./sdks/flow
