package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "vkprocess/gen/virtualkubelet/provider/v1"
)

const (
	providerName = "process"
	// protocolMinor is the minor version of virtualkubelet.provider.v1 this provider implements (1.0).
	protocolMinor = 0
)

// version is set at build time with -ldflags "-X main.version=..."; "dev" otherwise.
var version = "dev"

// server implements ProviderService on top of the store.
type server struct {
	pb.UnimplementedProviderServiceServer

	store      *store
	instanceID string
	node       *pb.Node

	mu       sync.Mutex
	nodeName string // the node name of the first Handshake; another one is refused
}

func newServer(st *store, node *pb.Node) *server {
	return &server{store: st, instanceID: rand.Text(), node: node}
}

// capabilities declares exactly what this provider implements: logs with every option (its log files keep a
// timestamp per line and the previous run's log), exec with stdin, separate stderr and exit codes, attach to a
// container's output, and port-forward to 127.0.0.1. No terminals, no stats, no in-place updates.
func capabilities() *pb.Capabilities {
	return &pb.Capabilities{
		Logs: &pb.LogsCapabilities{
			Supported: true, Follow: true, Since: true, TailLines: true, LimitBytes: true, Previous: true,
			Timestamps: true,
		},
		Exec:        &pb.ContainerStreamCapabilities{Supported: true, Stdin: true, SeparateStderr: true, ExitStatus: true},
		Attach:      &pb.ContainerStreamCapabilities{Supported: true, SeparateStderr: true, ExitStatus: true},
		PortForward: &pb.PortForwardCapabilities{Supported: true},
	}
}

func (s *server) Handshake(_ context.Context, req *pb.HandshakeRequest) (*pb.HandshakeResponse, error) {
	if major := req.GetProtocolVersion().GetMajor(); major != 1 {
		return nil, failedPrecondition("protocol major version %d is not supported; this provider speaks 1.%d",
			major, protocolMinor)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nodeName == "" {
		s.nodeName = req.GetNodeName()
	} else if req.GetNodeName() != s.nodeName {
		return nil, failedPrecondition("this provider serves node %q, not %q", s.nodeName, req.GetNodeName())
	}
	return &pb.HandshakeResponse{
		ProtocolVersion: &pb.ProtocolVersion{Major: 1, Minor: protocolMinor},
		ProviderName:    providerName,
		ProviderVersion: version,
		InstanceId:      s.instanceID,
		Capabilities:    capabilities(),
		Node:            s.node,
	}, nil
}

func (s *server) Ping(context.Context, *pb.PingRequest) (*pb.PingResponse, error) {
	return &pb.PingResponse{Health: pb.NodeHealth_NODE_HEALTH_HEALTHY}, nil
}

// WatchNode sends the node once: its capacity is fixed for the life of the process.
func (s *server) WatchNode(_ *pb.WatchNodeRequest, stream grpc.ServerStreamingServer[pb.WatchNodeResponse]) error {
	if err := stream.Send(&pb.WatchNodeResponse{Node: s.node}); err != nil {
		return err
	}
	<-stream.Context().Done()
	return nil
}

func (s *server) CreatePod(_ context.Context, req *pb.CreatePodRequest) (*pb.CreatePodResponse, error) {
	if err := validate(req.GetPod()); err != nil {
		return nil, invalid(err)
	}
	podStatus, existed, err := s.store.create(req.GetPod())
	if err != nil {
		return nil, internalError("creating the pod's directory: %v", err)
	}
	return &pb.CreatePodResponse{Status: podStatus, AlreadyExisted: existed}, nil
}

func (s *server) DeletePod(_ context.Context, req *pb.DeletePodRequest) (*pb.DeletePodResponse, error) {
	state, podStatus := s.store.delete(req.GetPod(), req.GracePeriodSeconds)
	return &pb.DeletePodResponse{State: state, Status: podStatus}, nil
}

func (s *server) GetPod(_ context.Context, req *pb.GetPodRequest) (*pb.GetPodResponse, error) {
	record, ok := s.store.get(req.GetPod().GetUid())
	if !ok {
		return nil, notFound("pod uid %s is not known to this provider", req.GetPod().GetUid())
	}
	return &pb.GetPodResponse{Pod: record}, nil
}

func (s *server) GetPodStatus(_ context.Context, req *pb.GetPodStatusRequest) (*pb.GetPodStatusResponse, error) {
	record, ok := s.store.get(req.GetPod().GetUid())
	if !ok {
		return nil, notFound("pod uid %s is not known to this provider", req.GetPod().GetUid())
	}
	return &pb.GetPodStatusResponse{Status: record.GetStatus()}, nil
}

// ListPods pages by UID: the page token is the last UID of the previous page.
func (s *server) ListPods(_ context.Context, req *pb.ListPodsRequest) (*pb.ListPodsResponse, error) {
	records := s.store.list()
	start := 0
	for start < len(records) && req.GetPageToken() != "" && records[start].GetRef().GetUid() <= req.GetPageToken() {
		start++
	}
	records = records[start:]
	response := &pb.ListPodsResponse{Pods: records}
	if size := int(req.GetPageSize()); size > 0 && len(records) > size {
		response.Pods = records[:size]
		response.NextPageToken = records[size-1].GetRef().GetUid()
	}
	return response, nil
}

func (s *server) WatchPods(_ *pb.WatchPodsRequest, stream grpc.ServerStreamingServer[pb.WatchPodsResponse]) error {
	records, events := s.store.watch()
	defer s.store.unwatch(events)
	for _, record := range records {
		if err := stream.Send(&pb.WatchPodsResponse{Event: &pb.WatchPodsResponse_Pod{Pod: record}}); err != nil {
			return err
		}
	}
	if err := stream.Send(&pb.WatchPodsResponse{Event: &pb.WatchPodsResponse_Synced{Synced: &pb.Synced{}}}); err != nil {
		return err
	}
	for {
		select {
		case event, open := <-events:
			if !open {
				return status.Error(codes.Unavailable, "the watch fell behind; reconnect for a new snapshot")
			}
			if err := stream.Send(event); err != nil {
				return err
			}
		case <-stream.Context().Done():
			return nil
		}
	}
}

func (s *server) GetContainerLogs(req *pb.GetContainerLogsRequest, stream grpc.ServerStreamingServer[pb.GetContainerLogsResponse]) error {
	log, err := s.store.logOf(req.GetPod(), req.GetContainer(), req.GetPrevious())
	if err != nil {
		return err
	}
	return streamLog(log, req, stream)
}

// The node -------------------------------------------------------------------------------------------------------

// nodeTemplate describes this host: the capacity given (or measured), its OS, architecture and kernel.
func nodeTemplate(capacity map[string]string) *pb.Node {
	info := &pb.NodeSystemInfo{
		OperatingSystem:         runtime.GOOS,
		Architecture:            runtime.GOARCH,
		ContainerRuntimeVersion: "process://" + version,
		OsImage:                 osImage(),
		MachineId:               strings.TrimSpace(readFile("/etc/machine-id")),
		BootId:                  strings.TrimSpace(readFile("/proc/sys/kernel/random/boot_id")),
		KernelVersion:           strings.TrimSpace(readFile("/proc/sys/kernel/osrelease")),
	}
	return &pb.Node{Capacity: capacity, Allocatable: capacity, SystemInfo: info}
}

func osImage() string {
	for line := range strings.SplitSeq(readFile("/etc/os-release"), "\n") {
		if value, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			return strings.Trim(value, `"`)
		}
	}
	return ""
}

func readFile(path string) string {
	data, _ := os.ReadFile(path)
	return string(data)
}

// Errors (the protocol's error contract) ----------------------------------------------------------------------------

func invalid(err error) error {
	st, detailErr := status.New(codes.InvalidArgument, err.Error()).WithDetails(&errdetails.ErrorInfo{
		Reason: "ProviderRejected", Domain: providerName,
	})
	if detailErr != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	return st.Err()
}

func notFound(format string, args ...any) error {
	return status.Error(codes.NotFound, fmt.Sprintf(format, args...))
}

func failedPrecondition(format string, args ...any) error {
	return status.Error(codes.FailedPrecondition, fmt.Sprintf(format, args...))
}

func internalError(format string, args ...any) error {
	return status.Error(codes.Internal, fmt.Sprintf(format, args...))
}
