"""The `flow` provider plugin: one gRPC server for the components and the custom resources.

- `Construct` builds `TrainingCluster`, `DataVolumes` and `TrainingJob`, the same Python classes a Python
  program uses, from camelCase inputs; their children are `flow:index:Task` and `flow:index:Volume`.
- `Check`/`Diff`/`Create`/`Read`/`Update`/`Delete` of those two types call the same `FlowTaskProvider`
  and `FlowVolumeProvider` the dynamic resources use, on a worker thread (the Flow SDK blocks).

pulumi's `experimental.server` serves CRUD through `experimental.provider.Provider`; its own Construct
hands over raw property values, so `Construct` goes to pulumi's classic servicer instead, which gives a
component the Outputs (with dependencies and secrets) a Python program would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from collections.abc import Callable, Mapping
from typing import Any

import grpc
import pulumi
import pulumi.provider as classic
import pulumi.provider.server as classic_server
from pulumi.dynamic import CheckResult, ConfigureRequest, DiffResult, ReadResult, ResourceProvider
from pulumi.errors import InputPropertyError
from pulumi.provider.experimental import provider as p
from pulumi.provider.experimental import server as experimental_server
from pulumi.provider.experimental.property_value import Computed, PropertyValue
from pulumi.runtime.rpc import UNKNOWN

from pulumi_flow import __version__, naming
from pulumi_flow.components.capacity import ReservedCapacity
from pulumi_flow.components.cluster import TYPE as CLUSTER_TYPE
from pulumi_flow.components.cluster import TrainingCluster, TrainingClusterArgs
from pulumi_flow.components.job import TYPE as JOB_TYPE
from pulumi_flow.components.job import TrainingJob, TrainingJobArgs
from pulumi_flow.components.pool import TYPE as POOL_COMPONENT_TYPE
from pulumi_flow.components.pool import SpotPool, SpotPoolArgs
from pulumi_flow.components.volumes import TYPE as VOLUMES_TYPE
from pulumi_flow.components.volumes import DataVolumes, DataVolumesArgs, VolumeMount, VolumeSpec
from pulumi_flow.plugin import schema
from pulumi_flow.provider.base import FlowProvider
from pulumi_flow.provider.errors import FlowProviderError
from pulumi_flow.provider.owner import FlowOwnerProvider
from pulumi_flow.provider.pool import FlowSpotPoolProvider
from pulumi_flow.provider.reservation import FlowReservationProvider
from pulumi_flow.provider.session import CONFIG_KEYS
from pulumi_flow.provider.task import OPERATION_TIMEOUT, STOP_WAITING, FlowTaskProvider
from pulumi_flow.provider.volume import FlowVolumeProvider
from pulumi_flow.resources import (
    PLUGIN_OWNER_TYPE,
    PLUGIN_POOL_TYPE,
    PLUGIN_RESERVATION_TYPE,
    PLUGIN_TASK_TYPE,
    PLUGIN_VOLUME_TYPE,
    Hosting,
    host_in_this_process,
)
from pulumi_flow.validation import InputError

# The provider's configuration on the wire (`apiKey`) and as the providers read it (`flow:apiKey`).
WIRE_CONFIG = {schema.camel(field): key for field, key in CONFIG_KEYS.items()}


def to_python(value: PropertyValue) -> Any:
    """A property value as the dynamic providers receive theirs: plain data, the wire's sentinel for unknowns."""
    raw = value.value
    if isinstance(raw, Computed):
        return UNKNOWN
    if isinstance(raw, Mapping):
        return {key: to_python(item) for key, item in raw.items()}
    if isinstance(raw, tuple):
        return [to_python(item) for item in raw]
    return raw


def from_python(value: Any) -> PropertyValue:
    """Plain data as a property value. An unknown stays the wire's sentinel string, which is how the protocol
    marshals one anyway (pulumi's `Computed` cannot be marshalled inside a list or map)."""
    if isinstance(value, PropertyValue):
        return value
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return PropertyValue(value)
    if isinstance(value, int | float):
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"cannot send {value!r} to the engine: not a finite number")
        return PropertyValue(number)
    if isinstance(value, Mapping):
        return PropertyValue({str(key): from_python(item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return PropertyValue([from_python(item) for item in value])
    return PropertyValue(str(value))


def to_python_map(values: Mapping[str, PropertyValue] | None) -> dict[str, Any]:
    return {key: to_python(value) for key, value in (values or {}).items()}


def from_python_map(values: Mapping[str, Any]) -> dict[str, PropertyValue]:
    return {key: from_python(value) for key, value in values.items()}


class FlowResourceProvider(p.Provider):
    """CRUD for `flow:index:Task`, `flow:index:Volume`, `flow:index:Reservation` and `flow:index:Pool`, by the
    providers the dynamic resources use."""

    def __init__(self) -> None:
        self._providers: dict[str, ResourceProvider] = {PLUGIN_TASK_TYPE: FlowTaskProvider(),
                                                        PLUGIN_VOLUME_TYPE: FlowVolumeProvider(),
                                                        PLUGIN_RESERVATION_TYPE: FlowReservationProvider(),
                                                        PLUGIN_POOL_TYPE: FlowSpotPoolProvider(),
                                                        PLUGIN_OWNER_TYPE: FlowOwnerProvider()}

    def _provider(self, urn: str) -> ResourceProvider:
        resource_type = urn.split("::")[-2].rsplit("$", 1)[-1]  # a child's type is qualified by its parents'
        provider = self._providers.get(resource_type)
        if provider is None:
            raise FlowProviderError(f"the flow provider has no custom resource {resource_type!r}; it serves "
                                    f"{sorted(self._providers)} and the components {sorted(COMPONENTS)}")
        return provider

    async def get_schema(self, request: p.GetSchemaRequest) -> p.GetSchemaResponse:
        return p.GetSchemaResponse(schema=json.dumps(schema.build()))

    async def configure(self, request: p.ConfigureRequest) -> p.ConfigureResponse:
        config = {WIRE_CONFIG[key]: to_python(value) for key, value in request.args.items() if key in WIRE_CONFIG}
        for provider in self._providers.values():
            provider.configure(ConfigureRequest(_PlainConfig(config)))  # type: ignore[arg-type]
        # Secrets arrive marked (the engine requires it of a plugin that constructs components); the CRUD
        # below keeps an output secret whenever its input was (`_keep_secret`). Outputs (with their
        # dependencies) are what `Construct` hands the components. No preview in Create: a preview never
        # reaches Mithril, the engine plans from the inputs.
        return p.ConfigureResponse(accept_secrets=True, supports_preview=False, accept_resources=True,
                                   accept_outputs=True)

    async def check(self, request: p.CheckRequest) -> p.CheckResponse:
        provider = self._provider(request.urn)
        news = to_python_map(request.new_inputs)
        if isinstance(provider, FlowProvider):
            _auto_name(provider, request.urn, news)
        result: CheckResult = await asyncio.to_thread(provider.check, to_python_map(request.old_inputs), news)
        return p.CheckResponse(inputs=from_python_map(result.inputs or {}),
                               failures=[p.CheckFailure(f.property, f.reason) for f in result.failures or []])

    async def diff(self, request: p.DiffRequest) -> p.DiffResponse:
        provider = self._provider(request.urn)
        result: DiffResult = await asyncio.to_thread(provider.diff, request.resource_id,
                                                     to_python_map(request.old_state),
                                                     to_python_map(request.new_inputs))
        return p.DiffResponse(changes=result.changes, replaces=list(result.replaces or []),
                              stables=list(result.stables or []),
                              delete_before_replace=bool(result.delete_before_replace))

    async def create(self, request: p.CreateRequest) -> p.CreateResponse:
        provider = self._provider(request.urn)
        OPERATION_TIMEOUT.set(request.timeout or None)  # this request's task: to_thread copies the context
        result = await asyncio.to_thread(provider.create, to_python_map(request.properties))
        return p.CreateResponse(resource_id=str(result.id),
                                properties=_keep_secret(request.properties, from_python_map(result.outs or {})))

    async def read(self, request: p.ReadRequest) -> p.ReadResponse:
        provider = self._provider(request.urn)
        current = {**to_python_map(request.inputs), **to_python_map(request.properties)}
        result: ReadResult = await asyncio.to_thread(provider.read, request.resource_id, current)
        if not result.id:
            return p.ReadResponse()  # gone: the engine drops it (refresh) or reports it missing (import)
        # A read that names no inputs leaves them as they were (the engine would otherwise store none).
        inputs = result.inputs if result.inputs is not None else to_python_map(request.inputs)
        secrets = {**request.inputs, **request.properties}
        return p.ReadResponse(resource_id=str(result.id),
                              properties=_keep_secret(secrets, from_python_map(result.outs or {})),
                              inputs=_keep_secret(secrets, from_python_map(inputs)))

    async def update(self, request: p.UpdateRequest) -> p.UpdateResponse:
        provider = self._provider(request.urn)
        OPERATION_TIMEOUT.set(request.timeout or None)
        result = await asyncio.to_thread(provider.update, request.resource_id, to_python_map(request.olds),
                                         to_python_map(request.news))
        return p.UpdateResponse(properties=_keep_secret(request.news, from_python_map(result.outs or {})))

    async def delete(self, request: p.DeleteRequest) -> None:
        provider = self._provider(request.urn)
        await asyncio.to_thread(provider.delete, request.resource_id, to_python_map(request.properties))

    async def cancel(self) -> None:
        STOP_WAITING.set()  # an interrupted `up`: waits end now, and a create cancels the bid it placed


def _keep_secret(given: Mapping[str, PropertyValue], outputs: dict[str, PropertyValue]) -> dict[str, PropertyValue]:
    """An output whose input held a secret (anywhere inside it) is secret as a whole: `env` may carry tokens."""
    return {key: value.with_secret(True) if key in given and given[key].contains_secret() else value
            for key, value in outputs.items()}


class _PlainConfig:
    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = values

    def get(self, key: str) -> Any:
        return self._values.get(key)


def _auto_name(provider: FlowProvider, urn: str, news: dict[str, Any]) -> None:
    """A `Task` or `Volume` declared without a name gets one from its URN, as the components' children do."""
    if news.get(provider.name_key) is not None:
        news.setdefault(naming.AUTO_NAMED, False)
        return
    make = naming.volume_name if isinstance(provider, FlowVolumeProvider) else naming.task_name
    news[provider.name_key] = make(urn.split("::")[-1], urn)
    news[naming.AUTO_NAMED] = True


# -- components ----------------------------------------------------------------------------------------


def _mounts(value: Any, field: str) -> list[VolumeMount]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputPropertyError(field, f"{value!r}: must be a list of {{volumeId, mountPath, interface}}")
    mounts = []
    for index, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise InputPropertyError(f"{field}[{index}]", f"{item!r}: must be {{volumeId, mountPath, interface}}")
        mounts.append(VolumeMount.by_id(item.get("volumeId"), item.get("mountPath"),  # type: ignore[arg-type]
                                        item.get("interface", "file"), field=f"{field}[{index}]"))
    return mounts


def _specs(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return value  # DataVolumesArgs says what it expected
    return {name: VolumeSpec(**{schema.snake(k): v for k, v in spec.items()}) if isinstance(spec, Mapping) else spec
            for name, spec in value.items()}


def _capacity(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return value  # TrainingClusterArgs says what it expected
    return _args(ReservedCapacity, value, convert={})


def _args(args_class: type, inputs: Mapping[str, Any], *, convert: Mapping[str, Callable[[Any], Any]]) -> Any:
    """An Args object from camelCase inputs; unknown names are refused by name, as a typo should be."""
    kwargs: dict[str, Any] = {}
    for key, value in inputs.items():
        name = schema.snake(key)
        fields = [f.name for f in args_class.__attrs_attrs__]  # type: ignore[attr-defined]
        if name not in fields:
            raise InputPropertyError(key, f"{args_class.__name__.removesuffix('Args')} has no input {key!r}. Fix: use "
                                          f"one of {', '.join(schema.camel(f) for f in fields)}")
        if value is not None:
            kwargs[name] = convert[name](value) if name in convert else value
    return args_class(**kwargs)


COMPONENTS: dict[str, Callable[[str, Mapping[str, Any], pulumi.ResourceOptions], pulumi.ComponentResource]] = {
    CLUSTER_TYPE: lambda name, inputs, opts: TrainingCluster(name, _args(
        TrainingClusterArgs, inputs, convert={"volumes": lambda v: _mounts(v, "volumes"), "capacity": _capacity}),
        opts),
    JOB_TYPE: lambda name, inputs, opts: TrainingJob(name, _args(
        TrainingJobArgs, inputs, convert={"volumes": lambda v: _mounts(v, "volumes"),
                                          "checkpoint": lambda v: _mounts([v], "checkpoint")[0]}), opts),
    VOLUMES_TYPE: lambda name, inputs, opts: DataVolumes(name, _args(
        DataVolumesArgs, inputs, convert={"volumes": _specs}), opts),
    POOL_COMPONENT_TYPE: lambda name, inputs, opts: SpotPool(name, _args(
        SpotPoolArgs, inputs, convert={"volumes": lambda v: _mounts(v, "volumes")}), opts),
}
OUTPUTS = {CLUSTER_TYPE: schema.TASK_COMPONENT_OUTPUTS, JOB_TYPE: schema.TASK_COMPONENT_OUTPUTS,
           VOLUMES_TYPE: schema.DATA_VOLUMES_OUTPUTS, POOL_COMPONENT_TYPE: schema.POOL_COMPONENT_OUTPUTS}


def _wire_path(field: str) -> str:
    """`TrainingClusterArgs.max_price_per_hour` -> `maxPricePerHour`: the name a YAML or TypeScript user wrote."""
    head, _, rest = field.partition(".")
    path = rest if head.endswith("Args") and rest else field
    first, dot, tail = path.partition(".")
    bracket = first.find("[")
    name, index = (first, "") if bracket < 0 else (first[:bracket], first[bracket:])
    return schema.camel(name) + index + dot + tail


class FlowComponents(classic.Provider):
    """Construct of the three components: the Python classes, their outputs under camelCase names."""

    def __init__(self) -> None:
        super().__init__(__version__)

    def construct(self, name: str, resource_type: str, inputs: pulumi.Inputs,
                  options: pulumi.ResourceOptions | None = None) -> classic.ConstructResult:
        build = COMPONENTS.get(resource_type)
        if build is None:
            raise ValueError(f"the flow provider has no component {resource_type!r}; it has {sorted(COMPONENTS)}")
        try:
            component = build(name, inputs, options or pulumi.ResourceOptions())
        except InputError as err:
            # The engine shows this as "property <path> ... has a problem", in the program's own names.
            raise InputPropertyError(_wire_path(err.field), err.reason) from None
        return classic.ConstructResult(urn=component.urn, state={
            schema.camel(key): getattr(component, key) for key in OUTPUTS[resource_type]})


def _reported_plainly(name: str) -> Callable[..., Any]:
    """pulumi's servicer reports any exception as "Unexpected <class 'Exception'>: ..." with a Python traceback.
    A `FlowProviderError` is a message for the user (what failed, what is left, the fix): send it as it is."""
    base = getattr(experimental_server.ProviderServicer, name)

    async def method(self: experimental_server.ProviderServicer, request: Any, context: Any) -> Any:
        try:
            return await base(self, request, context)
        except Exception as wrapped:
            original = wrapped.__context__  # the servicer raises its wrapper while handling ours
            if isinstance(original, FlowProviderError):
                await context.abort(grpc.StatusCode.UNKNOWN, str(original))
            raise

    method.__name__ = name
    return method


class _ComponentServicer(classic_server.ProviderServicer):
    """pulumi's Construct servicer, keeping the component's `customTimeouts`: pulumi's `_construct_options`
    builds them from the request and then drops them (pulumi 3.272), so the children of a
    component in YAML, TypeScript or Go would never get them."""

    @staticmethod
    def _construct_options(request: Any) -> pulumi.ResourceOptions:
        options = classic_server.ProviderServicer._construct_options(request)
        if options.custom_timeouts is None and request.HasField("customTimeouts"):
            given = request.customTimeouts
            if given.create or given.update or given.delete:
                options.custom_timeouts = pulumi.CustomTimeouts(
                    create=given.create or None, update=given.update or None, delete=given.delete or None)
        return options


class FlowPluginServicer(experimental_server.ProviderServicer):
    Check = _reported_plainly("Check")
    Diff = _reported_plainly("Diff")
    Create = _reported_plainly("Create")
    Read = _reported_plainly("Read")
    Update = _reported_plainly("Update")
    Delete = _reported_plainly("Delete")

    def __init__(self, args: list[str], engine_address: str) -> None:
        super().__init__(args, __version__, FlowResourceProvider(), engine_address)
        self._components = _ComponentServicer(FlowComponents(), args, engine_address)

    async def Construct(self, request: Any, context: Any) -> Any:
        return await self._components.Construct(request, context)


def main(argv: list[str] | None = None) -> None:
    """`pulumi-resource-flow ENGINE_ADDRESS`: what the Pulumi engine execs for the `flow` package."""
    import argparse
    import sys

    from pulumi.runtime._grpc_settings import _GRPC_CHANNEL_OPTIONS
    from pulumi.runtime.proto import provider_pb2_grpc

    args = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="pulumi-resource-flow", description="The flow Pulumi provider plugin.")
    parser.add_argument("engine", help="the Pulumi engine's address (the engine passes it)")
    parser.add_argument("--logflow", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--logtostderr", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("-v", dest="verbosity", help=argparse.SUPPRESS)
    known, _ = parser.parse_known_args(args)
    host_in_this_process(Hosting.PLUGIN)

    async def serve() -> None:
        server = grpc.aio.server(options=_GRPC_CHANNEL_OPTIONS)
        provider_pb2_grpc.add_ResourceProviderServicer_to_server(FlowPluginServicer(args, known.engine), server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        sys.stdout.write(f"{port}\n")
        sys.stdout.flush()
        await server.wait_for_termination()

    with contextlib.suppress(KeyboardInterrupt):  # the engine ends the plugin with a signal when it is done
        asyncio.run(serve())
