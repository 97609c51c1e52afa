"""Drive a dynamic provider the way the Pulumi engine does, with no CLI.

The engine starts `python -u -m pulumi.dynamic <engine-address>`, reads the port from the
first stdout line and speaks `pulumirpc.ResourceProvider` over gRPC, with the provider
pickled into the `__provider` property. `DynamicProviderProcess` does exactly that, so a
test proves pickling, imports, the wire format and the provider process's environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import grpc
from google.protobuf import struct_pb2
from pulumi.dynamic import ResourceProvider
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

PROVIDER_KEY = "__provider"
UNKNOWN = rpc.UNKNOWN


def secret(value: Any) -> dict[str, Any]:
    """A value marked secret on the wire, as the engine sends `pulumi config set --secret`."""
    return {rpc._special_sig_key: rpc._special_secret_sig, "value": value}


def to_struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(dict(props))
    return struct


def from_struct(struct: struct_pb2.Struct) -> dict[str, Any]:
    return rpc.deserialize_properties(struct, keep_unknowns=True)


@attrs.frozen
class CheckResponse:
    inputs: dict[str, Any]
    failures: list[tuple[str, str]]


@attrs.frozen
class DiffResponse:
    changes: bool
    replaces: list[str]
    delete_before_replace: bool


class ProviderError(Exception):
    """The provider process answered with a gRPC error; `details` is what the engine would print."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details


class _GrpcPluginProcess:
    """A plugin process as the engine runs one: it prints its port on the first stdout line."""

    _channel: grpc.Channel | None = None
    _proc: subprocess.Popen[bytes] | None = None
    stderr_path: str | None = None

    def _spawn(self, argv: list[str], env: Mapping[str, str], cwd: str | None = None) -> grpc.Channel:
        import tempfile

        stderr = tempfile.NamedTemporaryFile(prefix="pulumi-plugin-", suffix=".log", delete=False)  # noqa: SIM115
        self.stderr_path = stderr.name
        self._proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr, env=dict(env), cwd=cwd)
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline().decode().strip()
        if not line.isdigit():
            self.stop()
            raise RuntimeError(f"{' '.join(argv[1:4])} did not print a port (got {line!r}); see {self.stderr_path}")
        self._channel = grpc.insecure_channel(f"127.0.0.1:{line}")
        grpc.channel_ready_future(self._channel).result(timeout=30)
        return self._channel

    def stop(self) -> None:
        if self._channel is not None:
            self._channel.close()
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(timeout=10)
            if self._proc.stdout is not None:
                self._proc.stdout.close()

    def stderr(self) -> str:
        if self.stderr_path is None:
            return ""
        with open(self.stderr_path, errors="replace") as handle:
            return handle.read()


class DynamicProviderProcess(_GrpcPluginProcess):
    """One `python -m pulumi.dynamic` process, spoken to over gRPC."""

    def __init__(self, provider: ResourceProvider, resource_type: str, env: Mapping[str, str] | None = None,
                 project: str = "test-project", stack: str = "test") -> None:
        self.serialized = serialize_provider(provider)
        self.resource_type = resource_type
        self.project = project
        self.stack = stack
        self._env = {**os.environ, **(env or {}), "PULUMI_PROJECT": project}

    def urn(self, name: str) -> str:
        return f"urn:pulumi:{self.stack}::{self.project}::{self.resource_type}::{name}"

    def start(self) -> DynamicProviderProcess:
        channel = self._spawn([sys.executable, "-u", "-m", "pulumi.dynamic", "127.0.0.1:0"], self._env)
        self.stub = provider_pb2_grpc.ResourceProviderStub(channel)
        return self

    def __enter__(self) -> DynamicProviderProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _with_provider(self, props: Mapping[str, Any]) -> struct_pb2.Struct:
        return to_struct({**props, PROVIDER_KEY: self.serialized})

    def _call(self, method: str, request: Any) -> Any:
        try:
            return getattr(self.stub, method)(request, timeout=600)
        except grpc.RpcError as err:
            raise ProviderError(err.code(), err.details() or "") from None

    # -- the engine's calls ------------------------------------------------------------------

    def configure(self, config: Mapping[str, Any]) -> None:
        self._call("Configure", provider_pb2.ConfigureRequest(args=to_struct(config), acceptSecrets=True))

    def check(self, name: str, news: Mapping[str, Any], olds: Mapping[str, Any] | None = None) -> CheckResponse:
        response = self._call("Check", provider_pb2.CheckRequest(
            urn=self.urn(name), olds=self._with_provider(olds or {}), news=self._with_provider(news)))
        inputs = from_struct(response.inputs)
        inputs.pop(PROVIDER_KEY, None)
        return CheckResponse(inputs, [(f.property, f.reason) for f in response.failures])

    def diff(self, name: str, resource_id: str, olds: Mapping[str, Any], news: Mapping[str, Any]) -> DiffResponse:
        response = self._call("Diff", provider_pb2.DiffRequest(
            id=resource_id, urn=self.urn(name), olds=self._with_provider(olds), news=self._with_provider(news)))
        return DiffResponse(changes=response.changes == provider_pb2.DiffResponse.DIFF_SOME,
                            replaces=list(response.replaces),
                            delete_before_replace=response.deleteBeforeReplace)

    def create(self, name: str, props: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        response = self._call("Create", provider_pb2.CreateRequest(urn=self.urn(name),
                                                                   properties=self._with_provider(props)))
        outs = from_struct(response.properties)
        outs.pop(PROVIDER_KEY, None)
        return response.id, outs

    def read(self, name: str, resource_id: str, props: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        response = self._call("Read", provider_pb2.ReadRequest(id=resource_id, urn=self.urn(name),
                                                               properties=self._with_provider(props)))
        outs = from_struct(response.properties)
        outs.pop(PROVIDER_KEY, None)
        return response.id, outs

    def update(self, name: str, resource_id: str, olds: Mapping[str, Any],
               news: Mapping[str, Any]) -> dict[str, Any]:
        response = self._call("Update", provider_pb2.UpdateRequest(
            id=resource_id, urn=self.urn(name), olds=self._with_provider(olds), news=self._with_provider(news)))
        outs = from_struct(response.properties)
        outs.pop(PROVIDER_KEY, None)
        return outs

    def delete(self, name: str, resource_id: str, props: Mapping[str, Any]) -> None:
        self._call("Delete", provider_pb2.DeleteRequest(id=resource_id, urn=self.urn(name),
                                                        properties=self._with_provider(props)))


class FlowPluginProcess(DynamicProviderProcess):
    """The `flow` provider plugin (`pulumi-resource-flow`, or `python -m pulumi_flow.plugin`), spoken to as the
    engine does; `resource_type` is `flow:index:Task` or `flow:index:Volume`. No provider is pickled in."""

    def __init__(self, resource_type: str, env: Mapping[str, str] | None = None, project: str = "test-project",
                 stack: str = "test") -> None:
        self.resource_type = resource_type
        self.project = project
        self.stack = stack
        self._env = {**os.environ, **(env or {})}

    def start(self) -> FlowPluginProcess:
        channel = self._spawn([sys.executable, "-u", "-m", "pulumi_flow.plugin", "127.0.0.1:0"], self._env)
        self.stub = provider_pb2_grpc.ResourceProviderStub(channel)
        return self

    def __enter__(self) -> FlowPluginProcess:
        return self.start()

    def _with_provider(self, props: Mapping[str, Any]) -> struct_pb2.Struct:
        return to_struct(props)

    def schema(self) -> dict[str, Any]:
        import json

        return dict(json.loads(self._call("GetSchema", provider_pb2.GetSchemaRequest()).schema))

    def version(self) -> str:
        from google.protobuf import empty_pb2

        return str(self._call("GetPluginInfo", empty_pb2.Empty()).version)


# -- policy packs ------------------------------------------------------------------------------


@attrs.frozen
class Verdict:
    """One diagnostic from the pack, as the CLI would print it."""

    policy: str
    level: str  # "advisory", "mandatory", "remediate", "disabled"
    message: str
    urn: str

    @property
    def blocking(self) -> bool:
        return self.level == "mandatory"


@attrs.frozen
class StackResource:
    """What the engine sends about one resource in Analyze/AnalyzeStack."""

    type: str
    name: str
    urn: str
    properties: Mapping[str, Any]
    protect: bool = False
    parent: str = ""
    dependencies: tuple[str, ...] = ()
    property_dependencies: Mapping[str, tuple[str, ...]] = attrs.Factory(dict)


def _level_name(level: int) -> str:
    from pulumi.runtime.proto import analyzer_pb2

    return str(analyzer_pb2.EnforcementLevel.Name(level)).lower()


class PolicyPackProcess(_GrpcPluginProcess):
    """A policy pack launched as the Pulumi CLI (>= 3.221) launches it, spoken to as the engine.

    `python -u -m pulumi.policy <engine-address> <absolute pack dir>`, working directory the pack,
    with PULUMI_PROJECT, PULUMI_STACK, PULUMI_DRY_RUN and PULUMI_CONFIG set; the pack prints its port.
    """

    def __init__(self, pack_dir: str | os.PathLike[str], *, project: str = "project", stack: str = "dev",
                 dry_run: bool = False, config: Mapping[str, Any] | None = None,
                 env: Mapping[str, str] | None = None) -> None:
        import json

        self.pack_dir = os.path.abspath(pack_dir)
        self._env = {**os.environ, **(env or {}), "PULUMI_PROJECT": project, "PULUMI_STACK": stack,
                     "PULUMI_DRY_RUN": "true" if dry_run else "false", "PULUMI_CONFIG": json.dumps(dict(config or {}))}

    def start(self) -> PolicyPackProcess:
        from pulumi.runtime.proto import analyzer_pb2_grpc

        channel = self._spawn([sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:0", self.pack_dir],
                              self._env, cwd=self.pack_dir)
        self.stub = analyzer_pb2_grpc.AnalyzerStub(channel)
        return self

    def __enter__(self) -> PolicyPackProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def info(self) -> Any:
        from google.protobuf import empty_pb2

        return self.stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=60)

    def configure(self, policy_config: Mapping[str, Any]) -> None:
        """`--policy-pack-config` content: {"policy": {"enforcementLevel": "...", key: value}}, or "level" alone."""
        from pulumi.runtime.proto import analyzer_pb2

        from pulumi_flow_policies.configuration import normalised

        request = analyzer_pb2.ConfigureAnalyzerRequest()
        for name, settings in normalised(policy_config).items():
            properties = {k: v for k, v in settings.items() if k != "enforcementLevel"}
            level = settings.get("enforcementLevel", "advisory")
            request.policyConfig[name].CopyFrom(analyzer_pb2.PolicyConfig(
                enforcementLevel=analyzer_pb2.EnforcementLevel.Value(str(level).upper()),
                properties=to_struct(properties)))
        self.stub.Configure(request, timeout=60)

    @staticmethod
    def _options(resource: StackResource) -> Any:
        from pulumi.runtime.proto import analyzer_pb2

        return analyzer_pb2.AnalyzerResourceOptions(protect=resource.protect, parent=resource.parent)

    @staticmethod
    def _verdicts(response: Any) -> list[Verdict]:
        return [Verdict(d.policyName, _level_name(d.enforcementLevel), d.message, d.urn) for d in response.diagnostics]

    def analyze(self, resource: StackResource) -> list[Verdict]:
        from pulumi.runtime.proto import analyzer_pb2

        response = self.stub.Analyze(analyzer_pb2.AnalyzeRequest(
            type=resource.type, properties=to_struct(resource.properties), urn=resource.urn, name=resource.name,
            options=self._options(resource)), timeout=600)
        return self._verdicts(response)

    def analyze_stack(self, resources: Sequence[StackResource]) -> list[Verdict]:
        from pulumi.runtime.proto import analyzer_pb2

        request = analyzer_pb2.AnalyzeStackRequest()
        for resource in resources:
            item = request.resources.add(type=resource.type, properties=to_struct(resource.properties),
                                         urn=resource.urn, name=resource.name, options=self._options(resource),
                                         parent=resource.parent, dependencies=list(resource.dependencies))
            for key, urns in resource.property_dependencies.items():
                item.propertyDependencies[key].urns.extend(urns)
        return self._verdicts(self.stub.AnalyzeStack(request, timeout=600))

    def remediate(self, resource: StackResource) -> list[tuple[str, dict[str, Any]]]:
        from pulumi.runtime.proto import analyzer_pb2

        response = self.stub.Remediate(analyzer_pb2.AnalyzeRequest(
            type=resource.type, properties=to_struct(resource.properties), urn=resource.urn, name=resource.name,
            options=self._options(resource)), timeout=600)
        return [(r.policyName, from_struct(r.properties)) for r in response.remediations]
