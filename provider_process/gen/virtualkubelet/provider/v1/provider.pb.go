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

// Code generated by protoc-gen-go. DO NOT EDIT.
// versions:
// 	protoc-gen-go v1.36.12
// 	protoc        (unknown)
// source: virtualkubelet/provider/v1/provider.proto

package providerv1

import (
	protoreflect "google.golang.org/protobuf/reflect/protoreflect"
	protoimpl "google.golang.org/protobuf/runtime/protoimpl"
	reflect "reflect"
	unsafe "unsafe"
)

const (
	// Verify that this generated code is sufficiently up-to-date.
	_ = protoimpl.EnforceVersion(20 - protoimpl.MinVersion)
	// Verify that runtime/protoimpl is sufficiently up-to-date.
	_ = protoimpl.EnforceVersion(protoimpl.MaxVersion - 20)
)

var File_virtualkubelet_provider_v1_provider_proto protoreflect.FileDescriptor

const file_virtualkubelet_provider_v1_provider_proto_rawDesc = "" +
	"\n" +
	")virtualkubelet/provider/v1/provider.proto\x12\x1avirtualkubelet.provider.v1\x1a*virtualkubelet/provider/v1/handshake.proto\x1a%virtualkubelet/provider/v1/logs.proto\x1a%virtualkubelet/provider/v1/node.proto\x1a-virtualkubelet/provider/v1/pod_requests.proto\x1a&virtualkubelet/provider/v1/stats.proto\x1a*virtualkubelet/provider/v1/streaming.proto2\xdc\f\n" +
	"\x0fProviderService\x12h\n" +
	"\tHandshake\x12,.virtualkubelet.provider.v1.HandshakeRequest\x1a-.virtualkubelet.provider.v1.HandshakeResponse\x12Y\n" +
	"\x04Ping\x12'.virtualkubelet.provider.v1.PingRequest\x1a(.virtualkubelet.provider.v1.PingResponse\x12j\n" +
	"\tWatchNode\x12,.virtualkubelet.provider.v1.WatchNodeRequest\x1a-.virtualkubelet.provider.v1.WatchNodeResponse0\x01\x12h\n" +
	"\tCreatePod\x12,.virtualkubelet.provider.v1.CreatePodRequest\x1a-.virtualkubelet.provider.v1.CreatePodResponse\x12h\n" +
	"\tUpdatePod\x12,.virtualkubelet.provider.v1.UpdatePodRequest\x1a-.virtualkubelet.provider.v1.UpdatePodResponse\x12h\n" +
	"\tDeletePod\x12,.virtualkubelet.provider.v1.DeletePodRequest\x1a-.virtualkubelet.provider.v1.DeletePodResponse\x12_\n" +
	"\x06GetPod\x12).virtualkubelet.provider.v1.GetPodRequest\x1a*.virtualkubelet.provider.v1.GetPodResponse\x12e\n" +
	"\bListPods\x12+.virtualkubelet.provider.v1.ListPodsRequest\x1a,.virtualkubelet.provider.v1.ListPodsResponse\x12q\n" +
	"\fGetPodStatus\x12/.virtualkubelet.provider.v1.GetPodStatusRequest\x1a0.virtualkubelet.provider.v1.GetPodStatusResponse\x12j\n" +
	"\tWatchPods\x12,.virtualkubelet.provider.v1.WatchPodsRequest\x1a-.virtualkubelet.provider.v1.WatchPodsResponse0\x01\x12\x7f\n" +
	"\x10GetContainerLogs\x123.virtualkubelet.provider.v1.GetContainerLogsRequest\x1a4.virtualkubelet.provider.v1.GetContainerLogsResponse0\x01\x12]\n" +
	"\x04Exec\x12'.virtualkubelet.provider.v1.ExecRequest\x1a(.virtualkubelet.provider.v1.ExecResponse(\x010\x01\x12c\n" +
	"\x06Attach\x12).virtualkubelet.provider.v1.AttachRequest\x1a*.virtualkubelet.provider.v1.AttachResponse(\x010\x01\x12r\n" +
	"\vPortForward\x12..virtualkubelet.provider.v1.PortForwardRequest\x1a/.virtualkubelet.provider.v1.PortForwardResponse(\x010\x01\x12z\n" +
	"\x0fGetStatsSummary\x122.virtualkubelet.provider.v1.GetStatsSummaryRequest\x1a3.virtualkubelet.provider.v1.GetStatsSummaryResponseB\xee\x01\n" +
	"\x1ecom.virtualkubelet.provider.v1B\rProviderProtoP\x01Z3vkprocess/gen/virtualkubelet/provider/v1;providerv1\xa2\x02\x03VPX\xaa\x02\x1aVirtualkubelet.Provider.V1\xca\x02\x1aVirtualkubelet\\Provider\\V1\xe2\x02&Virtualkubelet\\Provider\\V1\\GPBMetadata\xea\x02\x1cVirtualkubelet::Provider::V1b\x06proto3"

var file_virtualkubelet_provider_v1_provider_proto_goTypes = []any{
	(*HandshakeRequest)(nil),         // 0: virtualkubelet.provider.v1.HandshakeRequest
	(*PingRequest)(nil),              // 1: virtualkubelet.provider.v1.PingRequest
	(*WatchNodeRequest)(nil),         // 2: virtualkubelet.provider.v1.WatchNodeRequest
	(*CreatePodRequest)(nil),         // 3: virtualkubelet.provider.v1.CreatePodRequest
	(*UpdatePodRequest)(nil),         // 4: virtualkubelet.provider.v1.UpdatePodRequest
	(*DeletePodRequest)(nil),         // 5: virtualkubelet.provider.v1.DeletePodRequest
	(*GetPodRequest)(nil),            // 6: virtualkubelet.provider.v1.GetPodRequest
	(*ListPodsRequest)(nil),          // 7: virtualkubelet.provider.v1.ListPodsRequest
	(*GetPodStatusRequest)(nil),      // 8: virtualkubelet.provider.v1.GetPodStatusRequest
	(*WatchPodsRequest)(nil),         // 9: virtualkubelet.provider.v1.WatchPodsRequest
	(*GetContainerLogsRequest)(nil),  // 10: virtualkubelet.provider.v1.GetContainerLogsRequest
	(*ExecRequest)(nil),              // 11: virtualkubelet.provider.v1.ExecRequest
	(*AttachRequest)(nil),            // 12: virtualkubelet.provider.v1.AttachRequest
	(*PortForwardRequest)(nil),       // 13: virtualkubelet.provider.v1.PortForwardRequest
	(*GetStatsSummaryRequest)(nil),   // 14: virtualkubelet.provider.v1.GetStatsSummaryRequest
	(*HandshakeResponse)(nil),        // 15: virtualkubelet.provider.v1.HandshakeResponse
	(*PingResponse)(nil),             // 16: virtualkubelet.provider.v1.PingResponse
	(*WatchNodeResponse)(nil),        // 17: virtualkubelet.provider.v1.WatchNodeResponse
	(*CreatePodResponse)(nil),        // 18: virtualkubelet.provider.v1.CreatePodResponse
	(*UpdatePodResponse)(nil),        // 19: virtualkubelet.provider.v1.UpdatePodResponse
	(*DeletePodResponse)(nil),        // 20: virtualkubelet.provider.v1.DeletePodResponse
	(*GetPodResponse)(nil),           // 21: virtualkubelet.provider.v1.GetPodResponse
	(*ListPodsResponse)(nil),         // 22: virtualkubelet.provider.v1.ListPodsResponse
	(*GetPodStatusResponse)(nil),     // 23: virtualkubelet.provider.v1.GetPodStatusResponse
	(*WatchPodsResponse)(nil),        // 24: virtualkubelet.provider.v1.WatchPodsResponse
	(*GetContainerLogsResponse)(nil), // 25: virtualkubelet.provider.v1.GetContainerLogsResponse
	(*ExecResponse)(nil),             // 26: virtualkubelet.provider.v1.ExecResponse
	(*AttachResponse)(nil),           // 27: virtualkubelet.provider.v1.AttachResponse
	(*PortForwardResponse)(nil),      // 28: virtualkubelet.provider.v1.PortForwardResponse
	(*GetStatsSummaryResponse)(nil),  // 29: virtualkubelet.provider.v1.GetStatsSummaryResponse
}
var file_virtualkubelet_provider_v1_provider_proto_depIdxs = []int32{
	0,  // 0: virtualkubelet.provider.v1.ProviderService.Handshake:input_type -> virtualkubelet.provider.v1.HandshakeRequest
	1,  // 1: virtualkubelet.provider.v1.ProviderService.Ping:input_type -> virtualkubelet.provider.v1.PingRequest
	2,  // 2: virtualkubelet.provider.v1.ProviderService.WatchNode:input_type -> virtualkubelet.provider.v1.WatchNodeRequest
	3,  // 3: virtualkubelet.provider.v1.ProviderService.CreatePod:input_type -> virtualkubelet.provider.v1.CreatePodRequest
	4,  // 4: virtualkubelet.provider.v1.ProviderService.UpdatePod:input_type -> virtualkubelet.provider.v1.UpdatePodRequest
	5,  // 5: virtualkubelet.provider.v1.ProviderService.DeletePod:input_type -> virtualkubelet.provider.v1.DeletePodRequest
	6,  // 6: virtualkubelet.provider.v1.ProviderService.GetPod:input_type -> virtualkubelet.provider.v1.GetPodRequest
	7,  // 7: virtualkubelet.provider.v1.ProviderService.ListPods:input_type -> virtualkubelet.provider.v1.ListPodsRequest
	8,  // 8: virtualkubelet.provider.v1.ProviderService.GetPodStatus:input_type -> virtualkubelet.provider.v1.GetPodStatusRequest
	9,  // 9: virtualkubelet.provider.v1.ProviderService.WatchPods:input_type -> virtualkubelet.provider.v1.WatchPodsRequest
	10, // 10: virtualkubelet.provider.v1.ProviderService.GetContainerLogs:input_type -> virtualkubelet.provider.v1.GetContainerLogsRequest
	11, // 11: virtualkubelet.provider.v1.ProviderService.Exec:input_type -> virtualkubelet.provider.v1.ExecRequest
	12, // 12: virtualkubelet.provider.v1.ProviderService.Attach:input_type -> virtualkubelet.provider.v1.AttachRequest
	13, // 13: virtualkubelet.provider.v1.ProviderService.PortForward:input_type -> virtualkubelet.provider.v1.PortForwardRequest
	14, // 14: virtualkubelet.provider.v1.ProviderService.GetStatsSummary:input_type -> virtualkubelet.provider.v1.GetStatsSummaryRequest
	15, // 15: virtualkubelet.provider.v1.ProviderService.Handshake:output_type -> virtualkubelet.provider.v1.HandshakeResponse
	16, // 16: virtualkubelet.provider.v1.ProviderService.Ping:output_type -> virtualkubelet.provider.v1.PingResponse
	17, // 17: virtualkubelet.provider.v1.ProviderService.WatchNode:output_type -> virtualkubelet.provider.v1.WatchNodeResponse
	18, // 18: virtualkubelet.provider.v1.ProviderService.CreatePod:output_type -> virtualkubelet.provider.v1.CreatePodResponse
	19, // 19: virtualkubelet.provider.v1.ProviderService.UpdatePod:output_type -> virtualkubelet.provider.v1.UpdatePodResponse
	20, // 20: virtualkubelet.provider.v1.ProviderService.DeletePod:output_type -> virtualkubelet.provider.v1.DeletePodResponse
	21, // 21: virtualkubelet.provider.v1.ProviderService.GetPod:output_type -> virtualkubelet.provider.v1.GetPodResponse
	22, // 22: virtualkubelet.provider.v1.ProviderService.ListPods:output_type -> virtualkubelet.provider.v1.ListPodsResponse
	23, // 23: virtualkubelet.provider.v1.ProviderService.GetPodStatus:output_type -> virtualkubelet.provider.v1.GetPodStatusResponse
	24, // 24: virtualkubelet.provider.v1.ProviderService.WatchPods:output_type -> virtualkubelet.provider.v1.WatchPodsResponse
	25, // 25: virtualkubelet.provider.v1.ProviderService.GetContainerLogs:output_type -> virtualkubelet.provider.v1.GetContainerLogsResponse
	26, // 26: virtualkubelet.provider.v1.ProviderService.Exec:output_type -> virtualkubelet.provider.v1.ExecResponse
	27, // 27: virtualkubelet.provider.v1.ProviderService.Attach:output_type -> virtualkubelet.provider.v1.AttachResponse
	28, // 28: virtualkubelet.provider.v1.ProviderService.PortForward:output_type -> virtualkubelet.provider.v1.PortForwardResponse
	29, // 29: virtualkubelet.provider.v1.ProviderService.GetStatsSummary:output_type -> virtualkubelet.provider.v1.GetStatsSummaryResponse
	15, // [15:30] is the sub-list for method output_type
	0,  // [0:15] is the sub-list for method input_type
	0,  // [0:0] is the sub-list for extension type_name
	0,  // [0:0] is the sub-list for extension extendee
	0,  // [0:0] is the sub-list for field type_name
}

func init() { file_virtualkubelet_provider_v1_provider_proto_init() }
func file_virtualkubelet_provider_v1_provider_proto_init() {
	if File_virtualkubelet_provider_v1_provider_proto != nil {
		return
	}
	file_virtualkubelet_provider_v1_handshake_proto_init()
	file_virtualkubelet_provider_v1_logs_proto_init()
	file_virtualkubelet_provider_v1_node_proto_init()
	file_virtualkubelet_provider_v1_pod_requests_proto_init()
	file_virtualkubelet_provider_v1_stats_proto_init()
	file_virtualkubelet_provider_v1_streaming_proto_init()
	type x struct{}
	out := protoimpl.TypeBuilder{
		File: protoimpl.DescBuilder{
			GoPackagePath: reflect.TypeOf(x{}).PkgPath(),
			RawDescriptor: unsafe.Slice(unsafe.StringData(file_virtualkubelet_provider_v1_provider_proto_rawDesc), len(file_virtualkubelet_provider_v1_provider_proto_rawDesc)),
			NumEnums:      0,
			NumMessages:   0,
			NumExtensions: 0,
			NumServices:   1,
		},
		GoTypes:           file_virtualkubelet_provider_v1_provider_proto_goTypes,
		DependencyIndexes: file_virtualkubelet_provider_v1_provider_proto_depIdxs,
	}.Build()
	File_virtualkubelet_provider_v1_provider_proto = out.File
	file_virtualkubelet_provider_v1_provider_proto_goTypes = nil
	file_virtualkubelet_provider_v1_provider_proto_depIdxs = nil
}
