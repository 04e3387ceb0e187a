"""The provider's declared capabilities, as plain data the kubelet API and the pod controller consult."""

from __future__ import annotations

from dataclasses import dataclass

from virtualkubelet.provider.v1 import capabilities_pb2


@dataclass(frozen=True)
class LogOptions:
    supported: bool = False
    follow: bool = False
    since: bool = False
    tail_lines: bool = False
    limit_bytes: bool = False
    previous: bool = False
    timestamps: bool = False


@dataclass(frozen=True)
class StreamOptions:
    supported: bool = False
    tty: bool = False
    stdin: bool = False
    separate_stderr: bool = False
    exit_status: bool = False
    resize: bool = False


@dataclass(frozen=True)
class Capabilities:
    logs: LogOptions = LogOptions()
    exec: StreamOptions = StreamOptions()
    attach: StreamOptions = StreamOptions()
    port_forward: bool = False
    stats: bool = False
    metrics: bool = False
    volume_updates: bool = False
    update_image: bool = False
    update_resources: bool = False
    update_metadata: bool = False

    @property
    def any_update(self) -> bool:
        return self.update_image or self.update_resources or self.update_metadata


def _stream(options: capabilities_pb2.ContainerStreamCapabilities) -> StreamOptions:
    return StreamOptions(
        supported=options.supported,
        tty=options.tty,
        stdin=options.stdin,
        separate_stderr=options.separate_stderr,
        exit_status=options.exit_status,
        resize=options.resize,
    )


def capabilities(message: capabilities_pb2.Capabilities) -> Capabilities:
    logs = message.logs
    return Capabilities(
        logs=LogOptions(
            supported=logs.supported,
            follow=logs.follow,
            since=logs.since,
            tail_lines=logs.tail_lines,
            limit_bytes=logs.limit_bytes,
            previous=logs.previous,
            timestamps=logs.timestamps,
        ),
        exec=_stream(message.exec),
        attach=_stream(message.attach),
        port_forward=message.port_forward.supported,
        stats=message.stats.supported,
        metrics=message.metrics.supported and message.stats.supported,
        volume_updates=message.volume_updates.supported,
        update_image=message.pod_update.image,
        update_resources=message.pod_update.resources,
        update_metadata=message.pod_update.metadata,
    )
