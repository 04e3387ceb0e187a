package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "vkprocess/gen/virtualkubelet/provider/v1"
)

const (
	dialTimeout = 5 * time.Second
	// refusedFor is how long a refused connection is tried again: a process often opens its port a moment after it
	// started (the container is already Running then, as there are no readiness probes here).
	refusedFor   = 2 * time.Second
	refusedPause = 50 * time.Millisecond
)

// PortForward carries one TCP connection to 127.0.0.1:port: the pods' processes share the host's network, so a
// pod's port is a port on this host.
func (s *server) PortForward(stream grpc.BidiStreamingServer[pb.PortForwardRequest, pb.PortForwardResponse]) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	start := first.GetStart()
	if start == nil {
		return status.Error(codes.InvalidArgument, "the first PortForward message must be `start`")
	}
	if port := start.GetPort(); port < 1 || port > 65535 {
		return status.Errorf(codes.InvalidArgument, "PortForwardStart.port: %d is not a TCP port", port)
	}
	if err := s.store.checkRunning(start.GetPod()); err != nil {
		return err
	}
	address := net.JoinHostPort("127.0.0.1", fmt.Sprint(start.GetPort()))
	conn, err := dial(address)
	if err != nil {
		return status.Errorf(codes.Unavailable, "connecting to port %d of the pod: %v", start.GetPort(), err)
	}
	tcp := conn.(*net.TCPConn)
	defer tcp.Close()
	if err := stream.Send(&pb.PortForwardResponse{Payload: &pb.PortForwardResponse_Started{Started: &pb.SessionStarted{}}}); err != nil {
		return err
	}

	fromPod := make(chan error, 1)
	go func() { fromPod <- podToUser(tcp, stream) }()
	toPod := make(chan error, 1)
	go func() { toPod <- userToPod(tcp, stream) }()
	// Done when both directions closed cleanly, or at the first error.
	var err1, err2 error
	select {
	case err1 = <-fromPod:
		if err1 == nil {
			err2 = <-toPod
		}
	case err1 = <-toPod:
		if err1 == nil {
			err2 = <-fromPod
		}
	}
	if err := errors.Join(err1, err2); err != nil {
		if stream.Context().Err() != nil {
			return stream.Context().Err()
		}
		return status.Errorf(codes.Unavailable, "the connection to port %d broke: %v", start.GetPort(), err)
	}
	return nil
}

// podToUser sends what the pod writes, then close_write when it half-closes.
func podToUser(conn *net.TCPConn, stream grpc.BidiStreamingServer[pb.PortForwardRequest, pb.PortForwardResponse]) error {
	buffer := make([]byte, chunkSize)
	for {
		n, err := conn.Read(buffer)
		if n > 0 {
			data := append([]byte(nil), buffer[:n]...)
			if err := stream.Send(&pb.PortForwardResponse{Payload: &pb.PortForwardResponse_Data{Data: data}}); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) {
			return stream.Send(&pb.PortForwardResponse{Payload: &pb.PortForwardResponse_CloseWrite{CloseWrite: &pb.CloseWrite{}}})
		}
		if err != nil {
			return err
		}
	}
}

// userToPod writes the user's bytes to the pod and half-closes the connection at close_write or the end of the
// request stream.
func userToPod(conn *net.TCPConn, stream grpc.BidiStreamingServer[pb.PortForwardRequest, pb.PortForwardResponse]) error {
	for {
		request, err := stream.Recv()
		if errors.Is(err, io.EOF) || (err == nil && request.GetCloseWrite() != nil) {
			return conn.CloseWrite()
		}
		if err != nil {
			_ = conn.Close() // unblocks podToUser
			return err
		}
		if _, err := conn.Write(request.GetData()); err != nil {
			return err
		}
	}
}

// dial connects to address, trying again for a moment while the connection is refused.
func dial(address string) (net.Conn, error) {
	deadline := time.Now().Add(refusedFor)
	for {
		conn, err := net.DialTimeout("tcp", address, dialTimeout)
		if err == nil || !errors.Is(err, syscall.ECONNREFUSED) || time.Now().After(deadline) {
			return conn, err
		}
		time.Sleep(refusedPause)
	}
}
