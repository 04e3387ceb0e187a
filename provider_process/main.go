// Command vk-provider-process is a virtual-kubelet provider (protocol virtualkubelet.provider.v1) that runs each
// pod's containers as processes on its own host: the command and args with the container's environment, output
// captured to timestamped log files, exec as a new process with the container's environment, port-forward to
// 127.0.0.1. It shows that a provider is any gRPC service that speaks the protocol, in any language.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"

	pb "vkprocess/gen/virtualkubelet/provider/v1"
)

// maxMessage is the largest message accepted: the protocol requires at least 64 MiB.
const maxMessage = 64 * 1024 * 1024

func main() {
	listen := flag.String("listen", "127.0.0.1:50051", "address to serve on, host:port")
	stateDir := flag.String("state-dir", "", "where pods' logs and working directories go (default: a new temp dir, "+
		"removed at exit)")
	capacityFlag := flag.String("capacity", "", "node capacity as name=quantity,... (default: this host's CPUs and "+
		"memory, and pods=110)")
	grace := flag.Duration("shutdown-grace", 5*time.Second, "at exit, how long pods get between SIGTERM and SIGKILL")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Printf("vk-provider-process %s\n", version)
		return
	}
	if err := run(*listen, *stateDir, *capacityFlag, *grace); err != nil {
		log.Fatalf("vk-provider-process: %v", err)
	}
}

func run(listen, stateDir, capacityFlag string, grace time.Duration) error {
	capacity, err := parseCapacity(capacityFlag)
	if err != nil {
		return err
	}
	if stateDir == "" {
		if stateDir, err = os.MkdirTemp("", "vk-provider-process-"); err != nil {
			return err
		}
		defer os.RemoveAll(stateDir)
	}
	listener, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	st := newStore(stateDir)
	grpcServer := grpc.NewServer(
		grpc.MaxRecvMsgSize(maxMessage),
		grpc.MaxSendMsgSize(maxMessage),
		// The controller pings every 30 s on its long-lived streams; allow it (and more) without GOAWAY.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
	)
	pb.RegisterProviderServiceServer(grpcServer, newServer(st, nodeTemplate(capacity)))
	healthpb.RegisterHealthServer(grpcServer, health.NewServer())
	reflection.Register(grpcServer)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	served := make(chan error, 1)
	go func() { served <- grpcServer.Serve(listener) }()
	log.Printf("vk-provider-process %s listening on %s (pods in %s)", version, listener.Addr(), stateDir)

	select {
	case err = <-served:
	case sig := <-stop:
		log.Printf("%s: stopping every pod, then the server", sig)
	}
	st.shutdown(grace)
	// Unary calls in flight may finish; long-lived streams (WatchPods, WatchNode) never would, so they are cut.
	stopped := make(chan struct{})
	go func() { grpcServer.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(time.Second):
		grpcServer.Stop()
	}
	return err
}

// parseCapacity reads "cpu=4,memory=8Gi,pods=110"; unset resources default to this host's.
func parseCapacity(text string) (map[string]string, error) {
	capacity := map[string]string{"cpu": strconv.Itoa(runtime.NumCPU()), "pods": "110"}
	if memory := memTotal(); memory != "" {
		capacity["memory"] = memory
	}
	for item := range strings.SplitSeq(text, ",") {
		if strings.TrimSpace(item) == "" {
			continue
		}
		name, value, ok := strings.Cut(item, "=")
		if !ok || strings.TrimSpace(name) == "" || strings.TrimSpace(value) == "" {
			return nil, fmt.Errorf("--capacity: %q is not name=quantity", item)
		}
		capacity[strings.TrimSpace(name)] = strings.TrimSpace(value)
	}
	if capacity["memory"] == "" {
		return nil, fmt.Errorf("--capacity: memory is unknown on this host; give it, e.g. memory=8Gi")
	}
	return capacity, nil
}

// memTotal is the host's memory as a Kubernetes quantity, from /proc/meminfo ("" if unknown).
func memTotal() string {
	file, err := os.Open("/proc/meminfo")
	if err != nil {
		return ""
	}
	defer file.Close()
	scanner := bufio.NewScanner(file)
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			return fields[1] + "Ki"
		}
	}
	return ""
}
