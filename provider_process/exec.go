package main

import (
	"io"
	"os/exec"
	"sync"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "vkprocess/gen/virtualkubelet/provider/v1"
)

// chunkSize bounds the bytes in one output message (the protocol asks for at most 32 KiB).
const chunkSize = 32 * 1024

// Exec runs a command as a new process beside the container's: with the container's environment and working
// directory, in its own process group (killed when the user goes away).
func (s *server) Exec(stream grpc.BidiStreamingServer[pb.ExecRequest, pb.ExecResponse]) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	start := first.GetStart()
	switch {
	case start == nil:
		return status.Error(codes.InvalidArgument, "the first Exec message must be `start`")
	case len(start.GetCommand()) == 0:
		return status.Error(codes.InvalidArgument, "ExecStart.command: at least one element is required")
	case start.GetTty():
		return failedPrecondition("terminals are not supported by the process provider")
	}
	container, err := s.store.runningContainer(start.GetPod(), start.GetContainer())
	if err != nil {
		return err
	}
	var sendMu sync.Mutex
	send := func(response *pb.ExecResponse) error {
		sendMu.Lock()
		defer sendMu.Unlock()
		return stream.Send(response)
	}
	exitWith := func(code int32, message string) error {
		if err := send(&pb.ExecResponse{Payload: &pb.ExecResponse_Started{Started: &pb.SessionStarted{}}}); err != nil {
			return err
		}
		return send(&pb.ExecResponse{Payload: &pb.ExecResponse_Exit{Exit: &pb.ExitStatus{
			State: pb.ExitStatusState_EXIT_STATUS_STATE_KNOWN, Code: code, Message: message,
		}}})
	}

	argv := start.GetCommand()
	path, err := lookPath(argv[0], envValue(container.env, "PATH"))
	if err != nil {
		return exitWith(startCode(err), err.Error())
	}
	cmd := exec.CommandContext(stream.Context(), path, argv[1:]...)
	cmd.Args, cmd.Env, cmd.Dir = argv, container.env, container.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return internalError("exec: %v", err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return internalError("exec: %v", err)
	}
	var stdin io.WriteCloser
	if start.GetStdin() {
		if stdin, err = cmd.StdinPipe(); err != nil {
			return internalError("exec: %v", err)
		}
	}
	if err := cmd.Start(); err != nil {
		return exitWith(startCode(err), err.Error())
	}
	if err := send(&pb.ExecResponse{Payload: &pb.ExecResponse_Started{Started: &pb.SessionStarted{}}}); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return err
	}
	if stdin != nil {
		go forwardStdin(stdin, func() (*pb.StreamInput, error) {
			request, err := stream.Recv()
			return request.GetInput(), err
		})
	}
	var output sync.WaitGroup
	output.Go(func() {
		copyOutput(stdout, start.GetStdout(), func(chunk []byte) error {
			return send(&pb.ExecResponse{Payload: &pb.ExecResponse_Output{Output: &pb.StreamOutput{
				Output: &pb.StreamOutput_Stdout{Stdout: chunk},
			}}})
		})
	})
	output.Go(func() {
		copyOutput(stderr, start.GetStderr(), func(chunk []byte) error {
			return send(&pb.ExecResponse{Payload: &pb.ExecResponse_Output{Output: &pb.StreamOutput{
				Output: &pb.StreamOutput_Stderr{Stderr: chunk},
			}}})
		})
	})
	output.Wait()
	waitErr := cmd.Wait()
	if stream.Context().Err() != nil {
		return stream.Context().Err()
	}
	if cmd.ProcessState == nil {
		return internalError("exec: %v", waitErr)
	}
	return send(&pb.ExecResponse{Payload: &pb.ExecResponse_Exit{Exit: &pb.ExitStatus{
		State: pb.ExitStatusState_EXIT_STATUS_STATE_KNOWN, Code: exitCodeOf(cmd.ProcessState),
	}}})
}

// forwardStdin writes the user's input to the process until close_stdin or the end of the request stream.
func forwardStdin(stdin io.WriteCloser, recv func() (*pb.StreamInput, error)) {
	defer stdin.Close()
	for {
		input, err := recv()
		if err != nil {
			return
		}
		if input.GetCloseStdin() != nil {
			return
		}
		if data := input.GetStdin(); len(data) > 0 {
			if _, err := stdin.Write(data); err != nil {
				return
			}
		}
	}
}

// copyOutput reads r to its end, sending each chunk when wanted (and dropping it otherwise).
func copyOutput(r io.Reader, wanted bool, send func([]byte) error) {
	buffer := make([]byte, chunkSize)
	for {
		n, err := r.Read(buffer)
		if n > 0 && wanted {
			if send(append([]byte(nil), buffer[:n]...)) != nil {
				wanted = false // the stream is gone; keep draining so the process can finish
			}
		}
		if err != nil {
			return
		}
	}
}

// Attach streams what the container's main process writes from now on, and its exit status if it exits during
// the session. Standard input is not offered (the provider refuses pods with stdin).
func (s *server) Attach(stream grpc.BidiStreamingServer[pb.AttachRequest, pb.AttachResponse]) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	start := first.GetStart()
	switch {
	case start == nil:
		return status.Error(codes.InvalidArgument, "the first Attach message must be `start`")
	case start.GetTty():
		return failedPrecondition("terminals are not supported by the process provider")
	case start.GetStdin():
		return failedPrecondition("standard input is not supported by the process provider")
	}
	container, err := s.store.runningContainer(start.GetPod(), start.GetContainer())
	if err != nil {
		return err
	}
	proc := container.proc
	reader, err := openLog(proc.log.path)
	if err != nil {
		return internalError("attach: %v", err)
	}
	defer reader.Close()
	if _, err := reader.file.Seek(0, io.SeekEnd); err != nil {
		return internalError("attach: %v", err)
	}
	if err := stream.Send(&pb.AttachResponse{Payload: &pb.AttachResponse_Started{Started: &pb.SessionStarted{}}}); err != nil {
		return err
	}
	for {
		changed, finished := proc.log.changes()
		entries, err := reader.next()
		if err != nil {
			return internalError("attach: %v", err)
		}
		for _, entry := range entries {
			if err := sendAttached(stream, start, entry); err != nil {
				return err
			}
		}
		if finished {
			<-proc.exited
			return stream.Send(&pb.AttachResponse{Payload: &pb.AttachResponse_Exit{Exit: &pb.ExitStatus{
				State: pb.ExitStatusState_EXIT_STATUS_STATE_KNOWN, Code: proc.result.code,
			}}})
		}
		select {
		case <-changed:
		case <-stream.Context().Done():
			return nil
		}
	}
}

func sendAttached(stream grpc.BidiStreamingServer[pb.AttachRequest, pb.AttachResponse], start *pb.AttachStart, entry logEntry) error {
	content := entry.Content
	if !entry.Partial {
		content = append(append([]byte(nil), content...), '\n')
	}
	output := &pb.StreamOutput{Output: &pb.StreamOutput_Stdout{Stdout: content}}
	wanted := start.GetStdout()
	if entry.Stream == pb.LogStream_LOG_STREAM_STDERR {
		output = &pb.StreamOutput{Output: &pb.StreamOutput_Stderr{Stderr: content}}
		wanted = start.GetStderr()
	}
	if !wanted {
		return nil
	}
	return stream.Send(&pb.AttachResponse{Payload: &pb.AttachResponse_Output{Output: output}})
}
