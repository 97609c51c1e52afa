// Command pulumi-flow-gen-sdk writes a Pulumi package's SDK for TypeScript or Go from its schema, with
// Pulumi's own code generators (pkg/v3/codegen/nodejs, pkg/v3/codegen/go). It is what
// `pulumi package gen-sdk` and `pulumi package add` run inside the language hosts, which the Go module
// proxy reachable here does not serve. The schema is validated against Pulumi's metaschema first.
//
//	pulumi package get-schema pulumi-resource-flow > schema.json
//	pulumi-flow-gen-sdk -schema schema.json -language nodejs -out sdks/flow
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/blang/semver"
	gogen "github.com/pulumi/pulumi/pkg/v3/codegen/go"
	"github.com/pulumi/pulumi/pkg/v3/codegen/nodejs"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)

const tool = "pulumi-flow-gen-sdk"

// noPackages is the loader for a schema that references no other package: the flow schema uses only
// its own types, so any reference elsewhere is a mistake worth an error, not a download.
type noPackages struct{}

func (noPackages) refuse(name string) error {
	return fmt.Errorf("the schema references package %q; it may reference only its own types", name)
}

func (l noPackages) LoadPackage(name string, _ *semver.Version) (*schema.Package, error) {
	return nil, l.refuse(name)
}

func (l noPackages) LoadPackageV2(_ context.Context, d *schema.PackageDescriptor) (*schema.Package, error) {
	return nil, l.refuse(d.Name)
}

func (l noPackages) LoadPackageReference(name string, _ *semver.Version) (schema.PackageReference, error) {
	return nil, l.refuse(name)
}

func (l noPackages) LoadPackageReferenceV2(
	_ context.Context, d *schema.PackageDescriptor,
) (schema.PackageReference, error) {
	return nil, l.refuse(d.Name)
}

func main() {
	schemaPath := flag.String("schema", "-", "the package schema, JSON ('-' reads stdin)")
	language := flag.String("language", "", "nodejs or go")
	out := flag.String("out", "", "directory to write the SDK into")
	flag.Parse()
	if err := run(*schemaPath, *language, *out); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", tool, err)
		os.Exit(1)
	}
}

func run(schemaPath, language, out string) error {
	if out == "" {
		return fmt.Errorf("-out is required")
	}
	var data []byte
	var err error
	if schemaPath == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(schemaPath)
	}
	if err != nil {
		return err
	}
	var spec schema.PackageSpec
	if err := json.Unmarshal(data, &spec); err != nil {
		return fmt.Errorf("schema is not JSON: %w", err)
	}
	pkg, diags, err := schema.BindSpec(spec, noPackages{}, schema.ValidationOptions{})
	if err != nil {
		return fmt.Errorf("binding the schema: %w", err)
	}
	if diags.HasErrors() {
		return fmt.Errorf("the schema is invalid: %s", diags.Error())
	}
	var files map[string][]byte
	switch language {
	case "nodejs":
		files, err = nodejs.GeneratePackage(tool, pkg, nil, nil, true, noPackages{})
	case "go":
		files, err = gogen.GeneratePackage(tool, pkg, nil)
	default:
		return fmt.Errorf("-language %q: expected nodejs or go", language)
	}
	if err != nil {
		return fmt.Errorf("generating the %s SDK: %w", language, err)
	}
	for name, content := range files {
		path := filepath.Join(out, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, content, 0o644); err != nil {
			return err
		}
	}
	return nil
}
