package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	pb "vkprocess/gen/virtualkubelet/provider/v1"
)

// outputDrainTimeout bounds the wait for a process's output after it exited (a child that escaped the process
// group could hold the pipes open forever).
const outputDrainTimeout = 2 * time.Second

// result is how one process ended.
type result struct {
	code     int32
	signal   int32
	reason   string
	message  string
	finished time.Time
}

// process is one run of a container: a host process in its own process group, its output captured to a log file.
// The process group plays the part of the container: when the main process exits, the rest of the group is killed,
// as a container runtime tears down a container whose main process exited.
type process struct {
	pid     int
	started time.Time
	log     *containerLog
	exited  chan struct{} // closed once the process ended and its output is in the log
	result  result        // valid once exited is closed
}

// startProcess starts argv with env in dir, its stdout and stderr going to a new log file at logPath. A process that
// cannot start comes back already exited with exit code 128 and reason StartError, as the kubelet reports it.
func startProcess(argv, env []string, dir, logPath string) (*process, error) {
	log, err := newContainerLog(logPath)
	if err != nil {
		return nil, err
	}
	p := &process{started: time.Now(), log: log, exited: make(chan struct{})}
	path, err := lookPath(argv[0], envValue(env, "PATH"))
	if err != nil {
		p.failToStart(err)
		return p, nil
	}
	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		log.finish()
		return nil, err
	}
	stderrR, stderrW, err := os.Pipe()
	if err != nil {
		_ = stdoutR.Close()
		_ = stdoutW.Close()
		log.finish()
		return nil, err
	}
	cmd := &exec.Cmd{
		Path: path, Args: argv, Env: env, Dir: dir, Stdout: stdoutW, Stderr: stderrW,
		// Its own process group (the "container"), killed if the provider dies without stopping its pods.
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
	}
	err = cmd.Start()
	_ = stdoutW.Close()
	_ = stderrW.Close()
	if err != nil {
		_ = stdoutR.Close()
		_ = stderrR.Close()
		p.failToStart(err)
		return p, nil
	}
	p.pid = cmd.Process.Pid
	var captured sync.WaitGroup
	captured.Go(func() { log.capture(stdoutR, pb.LogStream_LOG_STREAM_STDOUT) })
	captured.Go(func() { log.capture(stderrR, pb.LogStream_LOG_STREAM_STDERR) })
	go func() {
		waitErr := cmd.Wait()
		p.result = resultOf(cmd.ProcessState, waitErr)
		_ = syscall.Kill(-p.pid, syscall.SIGKILL) // what is left of the "container"
		drained := make(chan struct{})
		go func() { captured.Wait(); close(drained) }()
		select {
		case <-drained:
		case <-time.After(outputDrainTimeout):
		}
		_ = stdoutR.Close()
		_ = stderrR.Close()
		log.finish()
		close(p.exited)
	}()
	return p, nil
}

// failedProcess stands for a run that could not even get a log file: exited at once, with an empty log.
func failedProcess(err error) *process {
	changed := make(chan struct{})
	close(changed)
	p := &process{started: time.Now(), exited: make(chan struct{}),
		log: &containerLog{path: os.DevNull, changed: changed, finished: true}}
	p.result = result{code: 128, reason: "StartError", message: err.Error(), finished: time.Now()}
	close(p.exited)
	return p
}

func (p *process) failToStart(err error) {
	p.result = result{code: 128, reason: "StartError", message: err.Error(), finished: time.Now()}
	p.log.finish()
	close(p.exited)
}

// signal sends sig to the process group, if the process still runs.
func (p *process) signal(sig syscall.Signal) {
	select {
	case <-p.exited:
	default:
		if p.pid > 0 {
			_ = syscall.Kill(-p.pid, sig)
		}
	}
}

func (p *process) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// resultOf turns a process state into an exit code the Kubernetes way: 128+N for a process killed by signal N.
func resultOf(state *os.ProcessState, err error) result {
	r := result{finished: time.Now(), reason: "Completed"}
	if state == nil {
		r.code, r.reason, r.message = 128, "Error", fmt.Sprint(err)
		return r
	}
	status, _ := state.Sys().(syscall.WaitStatus)
	switch {
	case status.Signaled():
		r.signal = int32(status.Signal())
		r.code = 128 + r.signal
		r.reason = "Error"
	case state.ExitCode() != 0:
		r.code = int32(state.ExitCode())
		r.reason = "Error"
	}
	return r
}

// exitCodeOf is the exit code of a finished exec'd command: 128+N when killed by signal N.
func exitCodeOf(state *os.ProcessState) int32 {
	if status, ok := state.Sys().(syscall.WaitStatus); ok && status.Signaled() {
		return 128 + int32(status.Signal())
	}
	return int32(state.ExitCode())
}

// lookPath finds name in the directories of pathList (the container's PATH, not the provider's).
func lookPath(name, pathList string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	for _, dir := range filepath.SplitList(pathList) {
		if dir == "" {
			dir = "."
		}
		candidate := filepath.Join(dir, name)
		if info, err := os.Stat(candidate); err == nil && !info.IsDir() && info.Mode()&0o111 != 0 {
			return candidate, nil
		}
	}
	return "", fmt.Errorf("%w: %q in the container's PATH", errNotFound, name)
}

var errNotFound = errors.New("executable file not found")

// startCode is the exit code of a command that could not start: 127 when not found, 126 otherwise.
func startCode(err error) int32 {
	if errors.Is(err, errNotFound) || errors.Is(err, os.ErrNotExist) {
		return 127
	}
	return 126
}
