// The virtual-kubelet provider protocol, version 1.
//
// Two parties talk over this protocol:
//   * the controller: registers a Node in Kubernetes, acts as that Node's kubelet, and is the gRPC client;
//   * a provider: a gRPC server that runs the pods bound to that Node on one backend (a serverless container
//     service, or an in-memory mock). One provider instance serves one Node (one controller) at a time.
//
// Read this file first, then the files it imports, then docs/protocol.md (lifecycle, call order, examples).
//
// Order of calls (details in docs/protocol.md):
//   1. Handshake: versions, capabilities and the Node template. Repeated after every reconnect.
//   2. Ping (periodically) and WatchNode (one long-lived stream): node health and node changes.
//   3. WatchPods (one long-lived stream): the status of every pod, first as a snapshot ending with a `synced`
//      event, then every change. The controller never polls pods one by one.
//   4. CreatePod / UpdatePod / DeletePod as pods are bound, changed and deleted in Kubernetes.
//   5. On user demand: GetContainerLogs, Exec, Attach, PortForward, GetStatsSummary.
//
// Guarantees the controller gives a provider:
//   * It never sends two mutating calls (CreatePod, UpdatePod, DeletePod) for the same pod UID concurrently.
//   * Every mutating call may be repeated (after a timeout, a reconnect or a controller restart), so providers
//     must make them idempotent as documented on each RPC.
//   * It only uses an operation or an option that the provider declared in its Capabilities.
//
// ERROR CONTRACT. A provider answers a failed call with one of these gRPC status codes. The code decides what the
// controller does, so it is part of the protocol. "Retry" means: the controller retries with exponential backoff
// (honouring google.rpc.RetryInfo when present). Retries apply to calls the controller makes on its own
// (handshake, node, pod lifecycle, status, stats); for calls a user started (logs, exec, attach, port-forward)
// the controller reports the error to the user instead and does not retry.
//
//   INVALID_ARGUMENT    The pod can never run on this backend as specified (an unsupported volume type, a
//                       probe kind the backend lacks, too much memory for any instance size, ...). Terminal:
//                       the controller marks the pod Failed with this message. The message must name the
//                       Kubernetes field and say why, e.g. "spec.volumes[2].hostPath: host paths are not
//                       supported by Fargate". For requests (logs, exec): the request itself is malformed.
//   FAILED_PRECONDITION Not possible now, for a reason a user can fix or that will pass (exec into a container
//                       that is not running yet, logs of a container that has not started, a Handshake for a
//                       different node name than the one this provider instance already serves). Not retried
//                       for user calls; retried for lifecycle calls.
//   NOT_FOUND           Unknown pod UID or unknown container name. Never returned by DeletePod (see there).
//   UNAVAILABLE         Transient: the backend or the provider is temporarily unreachable. Retry.
//   RESOURCE_EXHAUSTED  Quota exhausted or throttled by the backend. Retry with a longer backoff; include
//                       google.rpc.RetryInfo when the backend says how long to wait.
//   DEADLINE_EXCEEDED   The backend did not answer in time. Retry (calls must be idempotent anyway).
//   UNIMPLEMENTED       The RPC or option belongs to a capability the provider did not declare. The controller
//                       tells the user the feature is not supported by this provider.
//   PERMISSION_DENIED   The backend refused (credentials, policy, image registry authorisation). Terminal for
//                       that pod: the controller marks it Failed with this message. Not retried.
//   UNAUTHENTICATED     The controller's credentials for the provider were rejected. The controller does not
//                       proceed (treated like a failed Handshake).
//   ALREADY_EXISTS      Never returned: CreatePod is idempotent by UID.
//   ABORTED             A conflicting change happened in the backend; retry.
//   INTERNAL / UNKNOWN  A bug or an unclassified failure. Retried with backoff, and logged loudly.
//
// Status details (grpc-status-details-bin, a google.rpc.Status): providers should attach
//   * google.rpc.ErrorInfo: `reason` is a short CamelCase word (e.g. "ImageNotFound", "QuotaExceeded") that the
//     controller uses as the pod status reason and the Kubernetes Event reason; `domain` is the provider name;
//     `metadata` may carry more context (no secret values);
//   * google.rpc.RetryInfo: how long to wait before retrying (UNAVAILABLE, RESOURCE_EXHAUSTED).
// These are the standard messages from google/rpc/error_details.proto. This package does not import them: they
// travel only in the status trailer, and every gRPC library can encode them.
//
// Messages never contain secret values in gRPC status messages or details (see docs/protocol.md).

// Code generated by protoc-gen-go-grpc. DO NOT EDIT.
// versions:
// - protoc-gen-go-grpc v1.6.2
// - protoc             (unknown)
// source: virtualkubelet/provider/v1/provider.proto

package providerv1

import (
	context "context"
	grpc "google.golang.org/grpc"
	codes "google.golang.org/grpc/codes"
	status "google.golang.org/grpc/status"
)

// This is a compile-time assertion to ensure that this generated file
// is compatible with the grpc package it is being compiled against.
// Requires gRPC-Go v1.64.0 or later.
const _ = grpc.SupportPackageIsVersion9

const (
	ProviderService_Handshake_FullMethodName        = "/virtualkubelet.provider.v1.ProviderService/Handshake"
	ProviderService_Ping_FullMethodName             = "/virtualkubelet.provider.v1.ProviderService/Ping"
	ProviderService_WatchNode_FullMethodName        = "/virtualkubelet.provider.v1.ProviderService/WatchNode"
	ProviderService_CreatePod_FullMethodName        = "/virtualkubelet.provider.v1.ProviderService/CreatePod"
	ProviderService_UpdatePod_FullMethodName        = "/virtualkubelet.provider.v1.ProviderService/UpdatePod"
	ProviderService_DeletePod_FullMethodName        = "/virtualkubelet.provider.v1.ProviderService/DeletePod"
	ProviderService_GetPod_FullMethodName           = "/virtualkubelet.provider.v1.ProviderService/GetPod"
	ProviderService_ListPods_FullMethodName         = "/virtualkubelet.provider.v1.ProviderService/ListPods"
	ProviderService_GetPodStatus_FullMethodName     = "/virtualkubelet.provider.v1.ProviderService/GetPodStatus"
	ProviderService_WatchPods_FullMethodName        = "/virtualkubelet.provider.v1.ProviderService/WatchPods"
	ProviderService_GetContainerLogs_FullMethodName = "/virtualkubelet.provider.v1.ProviderService/GetContainerLogs"
	ProviderService_Exec_FullMethodName             = "/virtualkubelet.provider.v1.ProviderService/Exec"
	ProviderService_Attach_FullMethodName           = "/virtualkubelet.provider.v1.ProviderService/Attach"
	ProviderService_PortForward_FullMethodName      = "/virtualkubelet.provider.v1.ProviderService/PortForward"
	ProviderService_GetStatsSummary_FullMethodName  = "/virtualkubelet.provider.v1.ProviderService/GetStatsSummary"
)

// ProviderServiceClient is the client API for ProviderService service.
//
// For semantics around ctx use and closing/ending streaming RPCs, please refer to https://pkg.go.dev/google.golang.org/grpc/?tab=doc#ClientConn.NewStream.
//
// ProviderService is implemented by every provider. The controller is its only client.
//
// A provider that lacks a capability answers the RPCs of that capability with UNIMPLEMENTED; the mandatory RPCs
// are Handshake, Ping, WatchNode, CreatePod, DeletePod, GetPod, ListPods, GetPodStatus and WatchPods.
type ProviderServiceClient interface {
	// Handshake exchanges protocol versions, identities, capabilities and the Node template. The controller calls it
	// before any other RPC, and again after every reconnect. Side-effect free and idempotent, except that the
	// provider may remember the node name (and refuse another one with FAILED_PRECONDITION).
	Handshake(ctx context.Context, in *HandshakeRequest, opts ...grpc.CallOption) (*HandshakeResponse, error)
	// Ping reports whether the provider and its backend are healthy. Called periodically (default every 10s) with a
	// short deadline; an error or a timeout counts as unhealthy. Drives the Node's Ready condition.
	Ping(ctx context.Context, in *PingRequest, opts ...grpc.CallOption) (*PingResponse, error)
	// WatchNode streams the Node's current state at once and then again after every change (capacity,
	// allocatable, conditions, labels, taints, addresses). The controller keeps one stream open and reopens it
	// when it breaks.
	WatchNode(ctx context.Context, in *WatchNodeRequest, opts ...grpc.CallOption) (grpc.ServerStreamingClient[WatchNodeResponse], error)
	// CreatePod starts running a pod. Idempotent by pod UID: if a pod with this UID already exists (in any state,
	// including terminating), the provider returns its current status and creates nothing.
	CreatePod(ctx context.Context, in *CreatePodRequest, opts ...grpc.CallOption) (*CreatePodResponse, error)
	// UpdatePod applies a changed pod to a running pod: only the kinds of change declared in
	// Capabilities.pod_update and Capabilities.volume_updates. Idempotent: the request is the full desired pod.
	UpdatePod(ctx context.Context, in *UpdatePodRequest, opts ...grpc.CallOption) (*UpdatePodResponse, error)
	// DeletePod stops a pod and releases everything it holds in the backend. Asynchronous and idempotent: answers
	// GONE (nothing is left) or TERMINATING (completion arrives later as a `deleted` event on WatchPods). Deleting
	// an unknown pod succeeds with GONE.
	DeletePod(ctx context.Context, in *DeletePodRequest, opts ...grpc.CallOption) (*DeletePodResponse, error)
	// GetPod returns the provider's record of one pod: its identity, the revision it runs and its status.
	GetPod(ctx context.Context, in *GetPodRequest, opts ...grpc.CallOption) (*GetPodResponse, error)
	// ListPods returns the records of all pods this provider runs for this Node, including terminating ones. Used
	// to reconcile after a controller restart (for example, to delete pods that no longer exist in Kubernetes).
	ListPods(ctx context.Context, in *ListPodsRequest, opts ...grpc.CallOption) (*ListPodsResponse, error)
	// GetPodStatus returns the current status of one pod.
	GetPodStatus(ctx context.Context, in *GetPodStatusRequest, opts ...grpc.CallOption) (*GetPodStatusResponse, error)
	// WatchPods streams the status of every pod: first one `pod` event per existing pod, then a `synced` event,
	// then an event after every change and a `deleted` event when a pod is gone. This is the only way pod status
	// reaches Kubernetes; the controller does not poll.
	WatchPods(ctx context.Context, in *WatchPodsRequest, opts ...grpc.CallOption) (grpc.ServerStreamingClient[WatchPodsResponse], error)
	// GetContainerLogs streams the log of one container as structured entries (capability: logs).
	GetContainerLogs(ctx context.Context, in *GetContainerLogsRequest, opts ...grpc.CallOption) (grpc.ServerStreamingClient[GetContainerLogsResponse], error)
	// Exec runs a command in a running container, streaming stdin, stdout, stderr, terminal resizes and finally
	// the exit status (capability: exec).
	Exec(ctx context.Context, opts ...grpc.CallOption) (grpc.BidiStreamingClient[ExecRequest, ExecResponse], error)
	// Attach connects to the main process of a running container (capability: attach).
	Attach(ctx context.Context, opts ...grpc.CallOption) (grpc.BidiStreamingClient[AttachRequest, AttachResponse], error)
	// PortForward carries one TCP connection to one port of a pod; one RPC per connection
	// (capability: port_forward).
	PortForward(ctx context.Context, opts ...grpc.CallOption) (grpc.BidiStreamingClient[PortForwardRequest, PortForwardResponse], error)
	// GetStatsSummary returns resource usage of the Node, its pods and their containers (capabilities: stats,
	// metrics). The controller serves the kubelet's /stats/summary and /metrics/resource endpoints from it.
	GetStatsSummary(ctx context.Context, in *GetStatsSummaryRequest, opts ...grpc.CallOption) (*GetStatsSummaryResponse, error)
}

type providerServiceClient struct {
	cc grpc.ClientConnInterface
}

func NewProviderServiceClient(cc grpc.ClientConnInterface) ProviderServiceClient {
	return &providerServiceClient{cc}
}

func (c *providerServiceClient) Handshake(ctx context.Context, in *HandshakeRequest, opts ...grpc.CallOption) (*HandshakeResponse, error) {
	cOpts := append([]grpc.CallOption{grpc.StaticMethod()}, opts...)
	out := new(HandshakeResponse)
	err := c.cc.Invoke(ctx, ProviderService_Handshake_FullMethodName, in, out, cOpts...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (c *providerServiceClient) Ping(ctx context.Context, in *PingRequest, opts ...grpc.CallOption) (*PingResponse, error) {
	cOpts := append([]grpc.CallOption{grpc.StaticMethod()}, opts...)
	out := new(PingResponse)
	err := c.cc.Invoke(ctx, ProviderService_Ping_FullMethodName, in, out, cOpts...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (c *providerServiceClient) WatchNode(ctx context.Context, in *WatchNodeRequest, opts ...grpc.CallOption) (grpc.ServerStreamingClient[WatchNodeResponse], error) {
	cOpts := append([]grpc.CallOption{grpc.StaticMethod()}, opts...)
	stream, err := c.cc.NewStream(ctx, &ProviderService_ServiceDesc.Streams[0], ProviderService_WatchNode_FullMethodName, cOpts...)
	if err != nil {
		return nil, err
	}
	x := &grpc.GenericClientStream[WatchNodeRequest, WatchNodeResponse]{ClientStream: stream}
	if err := x.ClientStream.SendMsg(in); err != nil {
		return nil, err
	}
	if err := x.ClientStream.CloseSend(); err != nil {
		return nil, err
	}
	return x, nil
}

// This type alias is provided for backwards compatibility with existing code that references the prior non-generic stream type by name.
type ProviderService_WatchNodeClient = grpc.ServerStreamingClient[WatchNodeResponse]

func (c *providerServiceClient) CreatePod(ctx context.Context, in *CreatePodRequest, opts ...grpc.CallOption) (*CreatePodResponse, error) {
	cOpts := append([]grpc.CallOption{grpc.StaticMethod()}, opts...)
	out := new(CreatePodResponse)
	err := c.cc.Invoke(ctx, ProviderService_CreatePod_FullMethodName, in, out, cOpts...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (c *providerServiceClient) UpdatePod(ctx context.Context, in *UpdatePodRequest, opts ...grpc.CallOption) (*UpdatePodResponse, error) {
	cOpts := append([]grpc.CallOption{grpc.StaticMethod()}, opts...)
	out := new(UpdatePodResponse)
	err := c.cc.Invoke(ctx, ProviderService_UpdatePod_FullMethodName, in, out, cOpts...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (c *providerServiceClient) DeletePod(ctx context.Context, in *DeletePodRequest, opts ...grpc.CallOption) (*DeletePodResponse, error) {
	cOpts := append([]grpc.CallOption{grpc.StaticMethod()}, opts...)
	out := new(DeletePodResponse)
	err := c.cc.Invoke(ctx, ProviderService_DeletePod_FullMethodName, in, out, cOpts...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (c *providerServiceClient) GetPod(ctx context.Context, in *GetPodRequest, opts ...grpc.CallOption) (*GetPodResponse, error) {
	cOpts := append([]grpc.CallOption{grpc.StaticMethod()}, opts...)
	out := new(GetPodResponse)
	err := c.cc.Invoke(ctx, ProviderService_GetPod_FullMethodName, in, out, cOpts...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (c *providerServiceClient) ListPods(ctx context.Context, in *ListPodsRequest, opts ...grpc.CallOption) (*ListPodsResponse, error) {
	cOpts := append([]grpc.CallOption{grpc.StaticMethod()}, opts...)
	out := new(ListPodsResponse)
	err := c.cc.Invoke(ctx, ProviderService_ListPods_FullMethodName, in, out, cOpts...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (c *providerServiceClient) GetPodStatus(ctx context.Context, in *GetPodStatusRequest, opts ...grpc.CallOption) (*GetPodStatusResponse, error) {
	cOpts := append([]grpc.CallOption{grpc.StaticMethod()}, opts...)
	out := new(GetPodStatusResponse)
	err := c.cc.Invoke(ctx, ProviderService_GetPodStatus_FullMethodName, in, out, cOpts...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (c *providerServiceClient) WatchPods(ctx context.Context, in *WatchPodsRequest, opts ...grpc.CallOption) (grpc.ServerStreamingClient[WatchPodsResponse], error) {
	cOpts := append([]grpc.CallOption{grpc.StaticMethod()}, opts...)
	stream, err := c.cc.NewStream(ctx, &ProviderService_ServiceDesc.Streams[1], ProviderService_WatchPods_FullMethodName, cOpts...)
	if err != nil {
		return nil, err
	}
	x := &grpc.GenericClientStream[WatchPodsRequest, WatchPodsResponse]{ClientStream: stream}
	if err := x.ClientStream.SendMsg(in); err != nil {
		return nil, err
	}
	if err := x.ClientStream.CloseSend(); err != nil {
		return nil, err
	}
	return x, nil
}

// This type alias is provided for backwards compatibility with existing code that references the prior non-generic stream type by name.
type ProviderService_WatchPodsClient = grpc.ServerStreamingClient[WatchPodsResponse]

func (c *providerServiceClient) GetContainerLogs(ctx context.Context, in *GetContainerLogsRequest, opts ...grpc.CallOption) (grpc.ServerStreamingClient[GetContainerLogsResponse], error) {
	cOpts := append([]grpc.CallOption{grpc.StaticMethod()}, opts...)
	stream, err := c.cc.NewStream(ctx, &ProviderService_ServiceDesc.Streams[2], ProviderService_GetContainerLogs_FullMethodName, cOpts...)
	if err != nil {
		return nil, err
	}
	x := &grpc.GenericClientStream[GetContainerLogsRequest, GetContainerLogsResponse]{ClientStream: stream}
	if err := x.ClientStream.SendMsg(in); err != nil {
		return nil, err
	}
	if err := x.ClientStream.CloseSend(); err != nil {
		return nil, err
	}
	return x, nil
}

// This type alias is provided for backwards compatibility with existing code that references the prior non-generic stream type by name.
type ProviderService_GetContainerLogsClient = grpc.ServerStreamingClient[GetContainerLogsResponse]

func (c *providerServiceClient) Exec(ctx context.Context, opts ...grpc.CallOption) (grpc.BidiStreamingClient[ExecRequest, ExecResponse], error) {
	cOpts := append([]grpc.CallOption{grpc.StaticMethod()}, opts...)
	stream, err := c.cc.NewStream(ctx, &ProviderService_ServiceDesc.Streams[3], ProviderService_Exec_FullMethodName, cOpts...)
	if err != nil {
		return nil, err
	}
	x := &grpc.GenericClientStream[ExecRequest, ExecResponse]{ClientStream: stream}
	return x, nil
}

// This type alias is provided for backwards compatibility with existing code that references the prior non-generic stream type by name.
type ProviderService_ExecClient = grpc.BidiStreamingClient[ExecRequest, ExecResponse]

func (c *providerServiceClient) Attach(ctx context.Context, opts ...grpc.CallOption) (grpc.BidiStreamingClient[AttachRequest, AttachResponse], error) {
	cOpts := append([]grpc.CallOption{grpc.StaticMethod()}, opts...)
	stream, err := c.cc.NewStream(ctx, &ProviderService_ServiceDesc.Streams[4], ProviderService_Attach_FullMethodName, cOpts...)
	if err != nil {
		return nil, err
	}
	x := &grpc.GenericClientStream[AttachRequest, AttachResponse]{ClientStream: stream}
	return x, nil
}

// This type alias is provided for backwards compatibility with existing code that references the prior non-generic stream type by name.
type ProviderService_AttachClient = grpc.BidiStreamingClient[AttachRequest, AttachResponse]

func (c *providerServiceClient) PortForward(ctx context.Context, opts ...grpc.CallOption) (grpc.BidiStreamingClient[PortForwardRequest, PortForwardResponse], error) {
	cOpts := append([]grpc.CallOption{grpc.StaticMethod()}, opts...)
	stream, err := c.cc.NewStream(ctx, &ProviderService_ServiceDesc.Streams[5], ProviderService_PortForward_FullMethodName, cOpts...)
	if err != nil {
		return nil, err
	}
	x := &grpc.GenericClientStream[PortForwardRequest, PortForwardResponse]{ClientStream: stream}
	return x, nil
}

// This type alias is provided for backwards compatibility with existing code that references the prior non-generic stream type by name.
type ProviderService_PortForwardClient = grpc.BidiStreamingClient[PortForwardRequest, PortForwardResponse]

func (c *providerServiceClient) GetStatsSummary(ctx context.Context, in *GetStatsSummaryRequest, opts ...grpc.CallOption) (*GetStatsSummaryResponse, error) {
	cOpts := append([]grpc.CallOption{grpc.StaticMethod()}, opts...)
	out := new(GetStatsSummaryResponse)
	err := c.cc.Invoke(ctx, ProviderService_GetStatsSummary_FullMethodName, in, out, cOpts...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ProviderServiceServer is the server API for ProviderService service.
// All implementations must embed UnimplementedProviderServiceServer
// for forward compatibility.
//
// ProviderService is implemented by every provider. The controller is its only client.
//
// A provider that lacks a capability answers the RPCs of that capability with UNIMPLEMENTED; the mandatory RPCs
// are Handshake, Ping, WatchNode, CreatePod, DeletePod, GetPod, ListPods, GetPodStatus and WatchPods.
type ProviderServiceServer interface {
	// Handshake exchanges protocol versions, identities, capabilities and the Node template. The controller calls it
	// before any other RPC, and again after every reconnect. Side-effect free and idempotent, except that the
	// provider may remember the node name (and refuse another one with FAILED_PRECONDITION).
	Handshake(context.Context, *HandshakeRequest) (*HandshakeResponse, error)
	// Ping reports whether the provider and its backend are healthy. Called periodically (default every 10s) with a
	// short deadline; an error or a timeout counts as unhealthy. Drives the Node's Ready condition.
	Ping(context.Context, *PingRequest) (*PingResponse, error)
	// WatchNode streams the Node's current state at once and then again after every change (capacity,
	// allocatable, conditions, labels, taints, addresses). The controller keeps one stream open and reopens it
	// when it breaks.
	WatchNode(*WatchNodeRequest, grpc.ServerStreamingServer[WatchNodeResponse]) error
	// CreatePod starts running a pod. Idempotent by pod UID: if a pod with this UID already exists (in any state,
	// including terminating), the provider returns its current status and creates nothing.
	CreatePod(context.Context, *CreatePodRequest) (*CreatePodResponse, error)
	// UpdatePod applies a changed pod to a running pod: only the kinds of change declared in
	// Capabilities.pod_update and Capabilities.volume_updates. Idempotent: the request is the full desired pod.
	UpdatePod(context.Context, *UpdatePodRequest) (*UpdatePodResponse, error)
	// DeletePod stops a pod and releases everything it holds in the backend. Asynchronous and idempotent: answers
	// GONE (nothing is left) or TERMINATING (completion arrives later as a `deleted` event on WatchPods). Deleting
	// an unknown pod succeeds with GONE.
	DeletePod(context.Context, *DeletePodRequest) (*DeletePodResponse, error)
	// GetPod returns the provider's record of one pod: its identity, the revision it runs and its status.
	GetPod(context.Context, *GetPodRequest) (*GetPodResponse, error)
	// ListPods returns the records of all pods this provider runs for this Node, including terminating ones. Used
	// to reconcile after a controller restart (for example, to delete pods that no longer exist in Kubernetes).
	ListPods(context.Context, *ListPodsRequest) (*ListPodsResponse, error)
	// GetPodStatus returns the current status of one pod.
	GetPodStatus(context.Context, *GetPodStatusRequest) (*GetPodStatusResponse, error)
	// WatchPods streams the status of every pod: first one `pod` event per existing pod, then a `synced` event,
	// then an event after every change and a `deleted` event when a pod is gone. This is the only way pod status
	// reaches Kubernetes; the controller does not poll.
	WatchPods(*WatchPodsRequest, grpc.ServerStreamingServer[WatchPodsResponse]) error
	// GetContainerLogs streams the log of one container as structured entries (capability: logs).
	GetContainerLogs(*GetContainerLogsRequest, grpc.ServerStreamingServer[GetContainerLogsResponse]) error
	// Exec runs a command in a running container, streaming stdin, stdout, stderr, terminal resizes and finally
	// the exit status (capability: exec).
	Exec(grpc.BidiStreamingServer[ExecRequest, ExecResponse]) error
	// Attach connects to the main process of a running container (capability: attach).
	Attach(grpc.BidiStreamingServer[AttachRequest, AttachResponse]) error
	// PortForward carries one TCP connection to one port of a pod; one RPC per connection
	// (capability: port_forward).
	PortForward(grpc.BidiStreamingServer[PortForwardRequest, PortForwardResponse]) error
	// GetStatsSummary returns resource usage of the Node, its pods and their containers (capabilities: stats,
	// metrics). The controller serves the kubelet's /stats/summary and /metrics/resource endpoints from it.
	GetStatsSummary(context.Context, *GetStatsSummaryRequest) (*GetStatsSummaryResponse, error)
	mustEmbedUnimplementedProviderServiceServer()
}

// UnimplementedProviderServiceServer must be embedded to have
// forward compatible implementations.
//
// NOTE: this should be embedded by value instead of pointer to avoid a nil
// pointer dereference when methods are called.
type UnimplementedProviderServiceServer struct{}

func (UnimplementedProviderServiceServer) Handshake(context.Context, *HandshakeRequest) (*HandshakeResponse, error) {
	return nil, status.Error(codes.Unimplemented, "method Handshake not implemented")
}
func (UnimplementedProviderServiceServer) Ping(context.Context, *PingRequest) (*PingResponse, error) {
	return nil, status.Error(codes.Unimplemented, "method Ping not implemented")
}
func (UnimplementedProviderServiceServer) WatchNode(*WatchNodeRequest, grpc.ServerStreamingServer[WatchNodeResponse]) error {
	return status.Error(codes.Unimplemented, "method WatchNode not implemented")
}
func (UnimplementedProviderServiceServer) CreatePod(context.Context, *CreatePodRequest) (*CreatePodResponse, error) {
	return nil, status.Error(codes.Unimplemented, "method CreatePod not implemented")
}
func (UnimplementedProviderServiceServer) UpdatePod(context.Context, *UpdatePodRequest) (*UpdatePodResponse, error) {
	return nil, status.Error(codes.Unimplemented, "method UpdatePod not implemented")
}
func (UnimplementedProviderServiceServer) DeletePod(context.Context, *DeletePodRequest) (*DeletePodResponse, error) {
	return nil, status.Error(codes.Unimplemented, "method DeletePod not implemented")
}
func (UnimplementedProviderServiceServer) GetPod(context.Context, *GetPodRequest) (*GetPodResponse, error) {
	return nil, status.Error(codes.Unimplemented, "method GetPod not implemented")
}
func (UnimplementedProviderServiceServer) ListPods(context.Context, *ListPodsRequest) (*ListPodsResponse, error) {
	return nil, status.Error(codes.Unimplemented, "method ListPods not implemented")
}
func (UnimplementedProviderServiceServer) GetPodStatus(context.Context, *GetPodStatusRequest) (*GetPodStatusResponse, error) {
	return nil, status.Error(codes.Unimplemented, "method GetPodStatus not implemented")
}
func (UnimplementedProviderServiceServer) WatchPods(*WatchPodsRequest, grpc.ServerStreamingServer[WatchPodsResponse]) error {
	return status.Error(codes.Unimplemented, "method WatchPods not implemented")
}
func (UnimplementedProviderServiceServer) GetContainerLogs(*GetContainerLogsRequest, grpc.ServerStreamingServer[GetContainerLogsResponse]) error {
	return status.Error(codes.Unimplemented, "method GetContainerLogs not implemented")
}
func (UnimplementedProviderServiceServer) Exec(grpc.BidiStreamingServer[ExecRequest, ExecResponse]) error {
	return status.Error(codes.Unimplemented, "method Exec not implemented")
}
func (UnimplementedProviderServiceServer) Attach(grpc.BidiStreamingServer[AttachRequest, AttachResponse]) error {
	return status.Error(codes.Unimplemented, "method Attach not implemented")
}
func (UnimplementedProviderServiceServer) PortForward(grpc.BidiStreamingServer[PortForwardRequest, PortForwardResponse]) error {
	return status.Error(codes.Unimplemented, "method PortForward not implemented")
}
func (UnimplementedProviderServiceServer) GetStatsSummary(context.Context, *GetStatsSummaryRequest) (*GetStatsSummaryResponse, error) {
	return nil, status.Error(codes.Unimplemented, "method GetStatsSummary not implemented")
}
func (UnimplementedProviderServiceServer) mustEmbedUnimplementedProviderServiceServer() {}
func (UnimplementedProviderServiceServer) testEmbeddedByValue()                         {}

// UnsafeProviderServiceServer may be embedded to opt out of forward compatibility for this service.
// Use of this interface is not recommended, as added methods to ProviderServiceServer will
// result in compilation errors.
type UnsafeProviderServiceServer interface {
	mustEmbedUnimplementedProviderServiceServer()
}

func RegisterProviderServiceServer(s grpc.ServiceRegistrar, srv ProviderServiceServer) {
	// If the following call panics, it indicates UnimplementedProviderServiceServer was
	// embedded by pointer and is nil.  This will cause panics if an
	// unimplemented method is ever invoked, so we test this at initialization
	// time to prevent it from happening at runtime later due to I/O.
	if t, ok := srv.(interface{ testEmbeddedByValue() }); ok {
		t.testEmbeddedByValue()
	}
	s.RegisterService(&ProviderService_ServiceDesc, srv)
}

func _ProviderService_Handshake_Handler(srv interface{}, ctx context.Context, dec func(interface{}) error, interceptor grpc.UnaryServerInterceptor) (interface{}, error) {
	in := new(HandshakeRequest)
	if err := dec(in); err != nil {
		return nil, err
	}
	if interceptor == nil {
		return srv.(ProviderServiceServer).Handshake(ctx, in)
	}
	info := &grpc.UnaryServerInfo{
		Server:     srv,
		FullMethod: ProviderService_Handshake_FullMethodName,
	}
	handler := func(ctx context.Context, req interface{}) (interface{}, error) {
		return srv.(ProviderServiceServer).Handshake(ctx, req.(*HandshakeRequest))
	}
	return interceptor(ctx, in, info, handler)
}

func _ProviderService_Ping_Handler(srv interface{}, ctx context.Context, dec func(interface{}) error, interceptor grpc.UnaryServerInterceptor) (interface{}, error) {
	in := new(PingRequest)
	if err := dec(in); err != nil {
		return nil, err
	}
	if interceptor == nil {
		return srv.(ProviderServiceServer).Ping(ctx, in)
	}
	info := &grpc.UnaryServerInfo{
		Server:     srv,
		FullMethod: ProviderService_Ping_FullMethodName,
	}
	handler := func(ctx context.Context, req interface{}) (interface{}, error) {
		return srv.(ProviderServiceServer).Ping(ctx, req.(*PingRequest))
	}
	return interceptor(ctx, in, info, handler)
}

func _ProviderService_WatchNode_Handler(srv interface{}, stream grpc.ServerStream) error {
	m := new(WatchNodeRequest)
	if err := stream.RecvMsg(m); err != nil {
		return err
	}
	return srv.(ProviderServiceServer).WatchNode(m, &grpc.GenericServerStream[WatchNodeRequest, WatchNodeResponse]{ServerStream: stream})
}

// This type alias is provided for backwards compatibility with existing code that references the prior non-generic stream type by name.
type ProviderService_WatchNodeServer = grpc.ServerStreamingServer[WatchNodeResponse]

func _ProviderService_CreatePod_Handler(srv interface{}, ctx context.Context, dec func(interface{}) error, interceptor grpc.UnaryServerInterceptor) (interface{}, error) {
	in := new(CreatePodRequest)
	if err := dec(in); err != nil {
		return nil, err
	}
	if interceptor == nil {
		return srv.(ProviderServiceServer).CreatePod(ctx, in)
	}
	info := &grpc.UnaryServerInfo{
		Server:     srv,
		FullMethod: ProviderService_CreatePod_FullMethodName,
	}
	handler := func(ctx context.Context, req interface{}) (interface{}, error) {
		return srv.(ProviderServiceServer).CreatePod(ctx, req.(*CreatePodRequest))
	}
	return interceptor(ctx, in, info, handler)
}

func _ProviderService_UpdatePod_Handler(srv interface{}, ctx context.Context, dec func(interface{}) error, interceptor grpc.UnaryServerInterceptor) (interface{}, error) {
	in := new(UpdatePodRequest)
	if err := dec(in); err != nil {
		return nil, err
	}
	if interceptor == nil {
		return srv.(ProviderServiceServer).UpdatePod(ctx, in)
	}
	info := &grpc.UnaryServerInfo{
		Server:     srv,
		FullMethod: ProviderService_UpdatePod_FullMethodName,
	}
	handler := func(ctx context.Context, req interface{}) (interface{}, error) {
		return srv.(ProviderServiceServer).UpdatePod(ctx, req.(*UpdatePodRequest))
	}
	return interceptor(ctx, in, info, handler)
}

func _ProviderService_DeletePod_Handler(srv interface{}, ctx context.Context, dec func(interface{}) error, interceptor grpc.UnaryServerInterceptor) (interface{}, error) {
	in := new(DeletePodRequest)
	if err := dec(in); err != nil {
		return nil, err
	}
	if interceptor == nil {
		return srv.(ProviderServiceServer).DeletePod(ctx, in)
	}
	info := &grpc.UnaryServerInfo{
		Server:     srv,
		FullMethod: ProviderService_DeletePod_FullMethodName,
	}
	handler := func(ctx context.Context, req interface{}) (interface{}, error) {
		return srv.(ProviderServiceServer).DeletePod(ctx, req.(*DeletePodRequest))
	}
	return interceptor(ctx, in, info, handler)
}

func _ProviderService_GetPod_Handler(srv interface{}, ctx context.Context, dec func(interface{}) error, interceptor grpc.UnaryServerInterceptor) (interface{}, error) {
	in := new(GetPodRequest)
	if err := dec(in); err != nil {
		return nil, err
	}
	if interceptor == nil {
		return srv.(ProviderServiceServer).GetPod(ctx, in)
	}
	info := &grpc.UnaryServerInfo{
		Server:     srv,
		FullMethod: ProviderService_GetPod_FullMethodName,
	}
	handler := func(ctx context.Context, req interface{}) (interface{}, error) {
		return srv.(ProviderServiceServer).GetPod(ctx, req.(*GetPodRequest))
	}
	return interceptor(ctx, in, info, handler)
}

func _ProviderService_ListPods_Handler(srv interface{}, ctx context.Context, dec func(interface{}) error, interceptor grpc.UnaryServerInterceptor) (interface{}, error) {
	in := new(ListPodsRequest)
	if err := dec(in); err != nil {
		return nil, err
	}
	if interceptor == nil {
		return srv.(ProviderServiceServer).ListPods(ctx, in)
	}
	info := &grpc.UnaryServerInfo{
		Server:     srv,
		FullMethod: ProviderService_ListPods_FullMethodName,
	}
	handler := func(ctx context.Context, req interface{}) (interface{}, error) {
		return srv.(ProviderServiceServer).ListPods(ctx, req.(*ListPodsRequest))
	}
	return interceptor(ctx, in, info, handler)
}

func _ProviderService_GetPodStatus_Handler(srv interface{}, ctx context.Context, dec func(interface{}) error, interceptor grpc.UnaryServerInterceptor) (interface{}, error) {
	in := new(GetPodStatusRequest)
	if err := dec(in); err != nil {
		return nil, err
	}
	if interceptor == nil {
		return srv.(ProviderServiceServer).GetPodStatus(ctx, in)
	}
	info := &grpc.UnaryServerInfo{
		Server:     srv,
		FullMethod: ProviderService_GetPodStatus_FullMethodName,
	}
	handler := func(ctx context.Context, req interface{}) (interface{}, error) {
		return srv.(ProviderServiceServer).GetPodStatus(ctx, req.(*GetPodStatusRequest))
	}
	return interceptor(ctx, in, info, handler)
}

func _ProviderService_WatchPods_Handler(srv interface{}, stream grpc.ServerStream) error {
	m := new(WatchPodsRequest)
	if err := stream.RecvMsg(m); err != nil {
		return err
	}
	return srv.(ProviderServiceServer).WatchPods(m, &grpc.GenericServerStream[WatchPodsRequest, WatchPodsResponse]{ServerStream: stream})
}

// This type alias is provided for backwards compatibility with existing code that references the prior non-generic stream type by name.
type ProviderService_WatchPodsServer = grpc.ServerStreamingServer[WatchPodsResponse]

func _ProviderService_GetContainerLogs_Handler(srv interface{}, stream grpc.ServerStream) error {
	m := new(GetContainerLogsRequest)
	if err := stream.RecvMsg(m); err != nil {
		return err
	}
	return srv.(ProviderServiceServer).GetContainerLogs(m, &grpc.GenericServerStream[GetContainerLogsRequest, GetContainerLogsResponse]{ServerStream: stream})
}

// This type alias is provided for backwards compatibility with existing code that references the prior non-generic stream type by name.
type ProviderService_GetContainerLogsServer = grpc.ServerStreamingServer[GetContainerLogsResponse]

func _ProviderService_Exec_Handler(srv interface{}, stream grpc.ServerStream) error {
	return srv.(ProviderServiceServer).Exec(&grpc.GenericServerStream[ExecRequest, ExecResponse]{ServerStream: stream})
}

// This type alias is provided for backwards compatibility with existing code that references the prior non-generic stream type by name.
type ProviderService_ExecServer = grpc.BidiStreamingServer[ExecRequest, ExecResponse]

func _ProviderService_Attach_Handler(srv interface{}, stream grpc.ServerStream) error {
	return srv.(ProviderServiceServer).Attach(&grpc.GenericServerStream[AttachRequest, AttachResponse]{ServerStream: stream})
}

// This type alias is provided for backwards compatibility with existing code that references the prior non-generic stream type by name.
type ProviderService_AttachServer = grpc.BidiStreamingServer[AttachRequest, AttachResponse]

func _ProviderService_PortForward_Handler(srv interface{}, stream grpc.ServerStream) error {
	return srv.(ProviderServiceServer).PortForward(&grpc.GenericServerStream[PortForwardRequest, PortForwardResponse]{ServerStream: stream})
}

// This type alias is provided for backwards compatibility with existing code that references the prior non-generic stream type by name.
type ProviderService_PortForwardServer = grpc.BidiStreamingServer[PortForwardRequest, PortForwardResponse]

func _ProviderService_GetStatsSummary_Handler(srv interface{}, ctx context.Context, dec func(interface{}) error, interceptor grpc.UnaryServerInterceptor) (interface{}, error) {
	in := new(GetStatsSummaryRequest)
	if err := dec(in); err != nil {
		return nil, err
	}
	if interceptor == nil {
		return srv.(ProviderServiceServer).GetStatsSummary(ctx, in)
	}
	info := &grpc.UnaryServerInfo{
		Server:     srv,
		FullMethod: ProviderService_GetStatsSummary_FullMethodName,
	}
	handler := func(ctx context.Context, req interface{}) (interface{}, error) {
		return srv.(ProviderServiceServer).GetStatsSummary(ctx, req.(*GetStatsSummaryRequest))
	}
	return interceptor(ctx, in, info, handler)
}

// ProviderService_ServiceDesc is the grpc.ServiceDesc for ProviderService service.
// It's only intended for direct use with grpc.RegisterService,
// and not to be introspected or modified (even as a copy)
var ProviderService_ServiceDesc = grpc.ServiceDesc{
	ServiceName: "virtualkubelet.provider.v1.ProviderService",
	HandlerType: (*ProviderServiceServer)(nil),
	Methods: []grpc.MethodDesc{
		{
			MethodName: "Handshake",
			Handler:    _ProviderService_Handshake_Handler,
		},
		{
			MethodName: "Ping",
			Handler:    _ProviderService_Ping_Handler,
		},
		{
			MethodName: "CreatePod",
			Handler:    _ProviderService_CreatePod_Handler,
		},
		{
			MethodName: "UpdatePod",
			Handler:    _ProviderService_UpdatePod_Handler,
		},
		{
			MethodName: "DeletePod",
			Handler:    _ProviderService_DeletePod_Handler,
		},
		{
			MethodName: "GetPod",
			Handler:    _ProviderService_GetPod_Handler,
		},
		{
			MethodName: "ListPods",
			Handler:    _ProviderService_ListPods_Handler,
		},
		{
			MethodName: "GetPodStatus",
			Handler:    _ProviderService_GetPodStatus_Handler,
		},
		{
			MethodName: "GetStatsSummary",
			Handler:    _ProviderService_GetStatsSummary_Handler,
		},
	},
	Streams: []grpc.StreamDesc{
		{
			StreamName:    "WatchNode",
			Handler:       _ProviderService_WatchNode_Handler,
			ServerStreams: true,
		},
		{
			StreamName:    "WatchPods",
			Handler:       _ProviderService_WatchPods_Handler,
			ServerStreams: true,
		},
		{
			StreamName:    "GetContainerLogs",
			Handler:       _ProviderService_GetContainerLogs_Handler,
			ServerStreams: true,
		},
		{
			StreamName:    "Exec",
			Handler:       _ProviderService_Exec_Handler,
			ServerStreams: true,
			ClientStreams: true,
		},
		{
			StreamName:    "Attach",
			Handler:       _ProviderService_Attach_Handler,
			ServerStreams: true,
			ClientStreams: true,
		},
		{
			StreamName:    "PortForward",
			Handler:       _ProviderService_PortForward_Handler,
			ServerStreams: true,
			ClientStreams: true,
		},
	},
	Metadata: "virtualkubelet/provider/v1/provider.proto",
}
