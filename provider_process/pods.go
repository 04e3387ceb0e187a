package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "vkprocess/gen/virtualkubelet/provider/v1"
)

// Restart back-off, as the kubelet's: 10 s doubling up to 5 min, reset after a run of 10 min.
const (
	initialBackoff = 10 * time.Second
	maxBackoff     = 5 * time.Minute
	backoffReset   = 10 * time.Minute
	defaultGrace   = 30 * time.Second
)

// containerRun is one container of a pod across its restarts.
type containerRun struct {
	spec     *pb.Container
	init     bool
	current  *process // the latest run; nil before the first start
	previous *process // the run before it, whose log GetContainerLogs(previous) reads
	exited   bool     // current has exited (set under the store lock once its output is captured)
	restarts int32
	waiting  string // why the container is not running now: ContainerCreating, PodInitializing, CrashLoopBackOff
	done     bool   // it will not run again
}

// pod is a pod the provider runs, with everything guarded by store.mu.
type pod struct {
	spec       *pb.Pod
	dir        string // the pod's directory: logs, and the working directory of its processes
	started    time.Time
	inits      []*containerRun
	containers []*containerRun
	deleting   bool
	finished   bool          // no container will run again
	wake       chan struct{} // closed when deletion starts, to cut restart back-offs short
	killAt     time.Time
	killTimer  *time.Timer
}

func (p *pod) ref() *pb.PodRef {
	meta := p.spec.GetMetadata()
	return &pb.PodRef{Uid: meta.GetUid(), Namespace: meta.GetNamespace(), Name: meta.GetName()}
}

func (p *pod) container(name string) *containerRun {
	for _, run := range p.runs() {
		if run.spec.GetName() == name {
			return run
		}
	}
	return nil
}

// allDone says whether no container will run again (the pod's goroutine may not have noticed yet).
func (p *pod) allDone() bool {
	for _, c := range p.runs() {
		if !c.done {
			return false
		}
	}
	return true
}

func (p *pod) runs() []*containerRun {
	return append(append([]*containerRun{}, p.inits...), p.containers...)
}

// store holds the pods and the WatchPods streams; one mutex guards both, so every change is published in order.
type store struct {
	root string

	mu       sync.Mutex
	pods     map[string]*pod
	watchers map[chan *pb.WatchPodsResponse]struct{}
	all      sync.WaitGroup // one per pod goroutine
}

func newStore(root string) *store {
	return &store{root: root, pods: map[string]*pod{}, watchers: map[chan *pb.WatchPodsResponse]struct{}{}}
}

// create starts a pod, or returns the existing one's status (idempotent by UID).
func (s *store) create(spec *pb.Pod) (*pb.PodStatus, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	uid := spec.GetMetadata().GetUid()
	if existing, ok := s.pods[uid]; ok {
		return existing.status(), true, nil
	}
	dir := filepath.Join(s.root, uid)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, err
	}
	p := &pod{spec: proto.CloneOf(spec), dir: dir, started: time.Now(), wake: make(chan struct{})}
	mainWaiting := "ContainerCreating"
	if len(spec.GetInitContainers()) > 0 {
		mainWaiting = "PodInitializing"
	}
	for _, c := range p.spec.GetInitContainers() {
		p.inits = append(p.inits, &containerRun{spec: c, init: true, waiting: "PodInitializing"})
	}
	for _, c := range p.spec.GetContainers() {
		p.containers = append(p.containers, &containerRun{spec: c, waiting: mainWaiting})
	}
	s.pods[uid] = p
	s.publishLocked(p)
	s.all.Go(func() { s.run(p) })
	return p.status(), false, nil
}

// run is the life of a pod: init containers one after another, then the containers together, each restarted as
// the restart policy says, until none will run again.
func (s *store) run(p *pod) {
	ok := true
	for _, c := range p.inits {
		if ok = s.supervise(p, c); !ok {
			break
		}
	}
	if ok {
		var containers sync.WaitGroup
		for _, c := range p.containers {
			containers.Go(func() { s.supervise(p, c) })
		}
		containers.Wait()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pods[p.spec.GetMetadata().GetUid()] != p {
		return // deleted as soon as its last container finished
	}
	for _, c := range p.runs() {
		c.done = true
	}
	p.finished = true
	if p.deleting {
		s.removeLocked(p, true)
		return
	}
	s.publishLocked(p)
}

// supervise runs one container until it will not run again; it reports whether its last run succeeded.
func (s *store) supervise(p *pod, c *containerRun) bool {
	backoff := initialBackoff
	for {
		s.mu.Lock()
		if p.deleting {
			c.done = true
			s.mu.Unlock()
			return false
		}
		logPath := filepath.Join(p.dir, fmt.Sprintf("%s-%d.log", c.spec.GetName(), c.restarts+boolInt(c.current != nil)))
		proc, err := startProcess(containerArgv(c.spec), containerEnv(p.spec, c.spec), workingDir(p, c.spec), logPath)
		if err != nil {
			proc = failedProcess(err)
		}
		if c.current != nil {
			c.previous = c.current
			c.restarts++
		}
		c.current, c.exited, c.waiting = proc, false, ""
		s.publishLocked(p)
		s.mu.Unlock()

		<-proc.exited

		s.mu.Lock()
		c.exited = true
		code := proc.result.code
		restart := !p.deleting && restarts(p.spec.GetRestartPolicy(), c.init, code)
		if !restart {
			c.done = true
			s.publishLocked(p)
			s.mu.Unlock()
			return code == 0
		}
		if proc.result.finished.Sub(proc.started) >= backoffReset {
			backoff = initialBackoff
		}
		c.waiting = "CrashLoopBackOff"
		s.publishLocked(p)
		s.mu.Unlock()
		select {
		case <-time.After(backoff):
		case <-p.wake:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// restarts says whether a container that exited with code runs again.
func restarts(policy pb.RestartPolicy, init bool, code int32) bool {
	switch policy {
	case pb.RestartPolicy_RESTART_POLICY_NEVER:
		return false
	case pb.RestartPolicy_RESTART_POLICY_ON_FAILURE:
		return code != 0
	default:
		return code != 0 || !init // an init container that succeeded is done; a regular one runs again
	}
}

func workingDir(p *pod, c *pb.Container) string {
	if c.GetWorkingDir() != "" {
		return c.GetWorkingDir()
	}
	return p.dir
}

func boolInt(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

// delete starts stopping a pod: SIGTERM to every process group now, SIGKILL when the grace period ends. It answers
// GONE when nothing is left, TERMINATING otherwise (a `deleted` event follows).
func (s *store) delete(ref *pb.PodRef, grace *int64) (pb.DeletionState, *pb.PodStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pods[ref.GetUid()]
	if !ok {
		return pb.DeletionState_DELETION_STATE_GONE, nil
	}
	if p.finished || p.allDone() {
		status := p.status()
		s.removeLocked(p, true)
		return pb.DeletionState_DELETION_STATE_GONE, status
	}
	period := defaultGrace
	if grace != nil {
		period = time.Duration(*grace) * time.Second
	} else if p.spec.TerminationGracePeriodSeconds != nil {
		period = time.Duration(p.spec.GetTerminationGracePeriodSeconds()) * time.Second
	}
	killAt := time.Now().Add(max(period, 0))
	if !p.deleting {
		p.deleting = true
		close(p.wake)
		p.signalLocked(syscall.SIGTERM)
		p.killAt = killAt
		p.killTimer = time.AfterFunc(max(period, 0), func() { s.kill(p) })
		s.publishLocked(p)
	} else if killAt.Before(p.killAt) { // a shorter grace period (a forced delete) takes effect
		p.killAt = killAt
		p.killTimer.Reset(max(period, 0))
	}
	return pb.DeletionState_DELETION_STATE_TERMINATING, p.status()
}

func (s *store) kill(p *pod) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p.signalLocked(syscall.SIGKILL)
}

func (p *pod) signalLocked(sig syscall.Signal) {
	for _, c := range p.runs() {
		if c.current != nil {
			c.current.signal(sig)
		}
	}
}

// removeLocked forgets a pod whose processes are gone, deletes its directory and tells the watchers.
func (s *store) removeLocked(p *pod, requested bool) {
	uid := p.spec.GetMetadata().GetUid()
	if s.pods[uid] != p {
		return
	}
	delete(s.pods, uid)
	if p.killTimer != nil {
		p.killTimer.Stop()
	}
	_ = os.RemoveAll(p.dir)
	s.broadcastLocked(&pb.WatchPodsResponse{Event: &pb.WatchPodsResponse_Deleted{Deleted: &pb.PodDeleted{
		Ref: p.ref(), Requested: requested, FinalStatus: p.status(),
	}}})
}

// shutdown stops every pod (SIGTERM, then SIGKILL after grace) and waits for their processes to end.
func (s *store) shutdown(grace time.Duration) {
	s.mu.Lock()
	refs := make([]*pb.PodRef, 0, len(s.pods))
	for _, p := range s.pods {
		refs = append(refs, p.ref())
	}
	s.mu.Unlock()
	seconds := int64(grace / time.Second)
	for _, ref := range refs {
		s.delete(ref, &seconds)
	}
	s.all.Wait()
}

// get returns a pod's record.
func (s *store) get(uid string) (*pb.PodRecord, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pods[uid]
	if !ok {
		return nil, false
	}
	return p.record(), true
}

// list returns every record, ordered by UID.
func (s *store) list() []*pb.PodRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.recordsLocked()
}

func (s *store) recordsLocked() []*pb.PodRecord {
	records := make([]*pb.PodRecord, 0, len(s.pods))
	for _, p := range s.pods {
		records = append(records, p.record())
	}
	sort.Slice(records, func(i, j int) bool { return records[i].GetRef().GetUid() < records[j].GetRef().GetUid() })
	return records
}

// watch registers a WatchPods stream: the records now, and a channel of every later event.
func (s *store) watch() ([]*pb.PodRecord, chan *pb.WatchPodsResponse) {
	s.mu.Lock()
	defer s.mu.Unlock()
	events := make(chan *pb.WatchPodsResponse, 1024)
	s.watchers[events] = struct{}{}
	return s.recordsLocked(), events
}

func (s *store) unwatch(events chan *pb.WatchPodsResponse) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.watchers[events]; ok {
		delete(s.watchers, events)
		close(events)
	}
}

func (s *store) publishLocked(p *pod) {
	s.broadcastLocked(&pb.WatchPodsResponse{Event: &pb.WatchPodsResponse_Pod{Pod: p.record()}})
}

// broadcastLocked queues an event for every stream; a stream too slow to keep 1024 events is closed (its client
// reconnects and gets a fresh snapshot), so a slow reader never blocks the pods.
func (s *store) broadcastLocked(event *pb.WatchPodsResponse) {
	for events := range s.watchers {
		select {
		case events <- event:
		default:
			delete(s.watchers, events)
			close(events)
		}
	}
}

// Status -------------------------------------------------------------------------------------------------------

func (p *pod) record() *pb.PodRecord {
	return &pb.PodRecord{Ref: p.ref(), Revision: p.spec.GetRevision(), Deleting: p.deleting, Status: p.status()}
}

func (p *pod) status() *pb.PodStatus {
	status := &pb.PodStatus{Phase: p.phase(), StartTime: timestamppb.New(p.started)}
	for _, c := range p.inits {
		status.InitContainerStatuses = append(status.InitContainerStatuses, c.status())
	}
	for _, c := range p.containers {
		status.ContainerStatuses = append(status.ContainerStatuses, c.status())
	}
	return status
}

// phase follows Kubernetes: Pending until the init containers completed and a container started; Succeeded or
// Failed once no container will run again; Running in between.
func (p *pod) phase() pb.PodPhase {
	for _, c := range p.inits {
		if !c.done {
			return pb.PodPhase_POD_PHASE_PENDING
		}
		if c.current == nil || c.current.result.code != 0 {
			return pb.PodPhase_POD_PHASE_FAILED
		}
	}
	allDone, allSucceeded, started := true, true, false
	for _, c := range p.containers {
		started = started || c.current != nil
		allDone = allDone && c.done && c.current != nil
		allSucceeded = allSucceeded && c.current != nil && c.exited && c.current.result.code == 0
	}
	switch {
	case allDone && allSucceeded:
		return pb.PodPhase_POD_PHASE_SUCCEEDED
	case allDone:
		return pb.PodPhase_POD_PHASE_FAILED
	case started:
		return pb.PodPhase_POD_PHASE_RUNNING
	default:
		return pb.PodPhase_POD_PHASE_PENDING
	}
}

func (c *containerRun) status() *pb.ContainerStatus {
	status := &pb.ContainerStatus{Name: c.spec.GetName(), Image: c.spec.GetImage(), RestartCount: c.restarts}
	if c.previous != nil {
		status.LastTerminationState = terminated(c.previous)
	}
	switch {
	case c.current == nil || c.waiting != "":
		status.State = &pb.ContainerState{State: &pb.ContainerState_Waiting{Waiting: &pb.ContainerStateWaiting{
			Reason: c.waiting,
		}}}
		if c.current != nil {
			status.LastTerminationState = terminated(c.current)
		}
	case !c.exited:
		status.State = &pb.ContainerState{State: &pb.ContainerState_Running{Running: &pb.ContainerStateRunning{
			StartedAt: timestamppb.New(c.current.started),
		}}}
		status.Started, status.Ready = true, true // no readiness probe: ready once running (probes are refused)
		status.ContainerId = containerID(c.current)
	default:
		status.State = &pb.ContainerState{State: &pb.ContainerState_Terminated{Terminated: terminated(c.current)}}
		status.ContainerId = containerID(c.current)
	}
	return status
}

// terminated describes a run that ended; read only once the run exited (its result is then final).
func terminated(p *process) *pb.ContainerStateTerminated {
	code := p.result.code
	return &pb.ContainerStateTerminated{
		ExitCode: &code, Signal: p.result.signal, Reason: p.result.reason, Message: p.result.message,
		StartedAt: timestamppb.New(p.started), FinishedAt: timestamppb.New(p.result.finished),
		ContainerId: containerID(p),
	}
}

func containerID(p *process) string {
	if p.pid == 0 {
		return ""
	}
	return fmt.Sprintf("process://%d", p.pid)
}

// Lookups for logs, exec, attach and port-forward ----------------------------------------------------------------

// lookup finds a pod and, when name is not empty, one of its containers.
func (s *store) lookupLocked(ref *pb.PodRef, name string) (*pod, *containerRun, error) {
	p, ok := s.pods[ref.GetUid()]
	if !ok {
		return nil, nil, notFound("pod %s/%s (uid %s) is not known to this provider", ref.GetNamespace(),
			ref.GetName(), ref.GetUid())
	}
	if name == "" {
		return p, nil, nil
	}
	c := p.container(name)
	if c == nil {
		return nil, nil, notFound("pod %s/%s has no container %q", ref.GetNamespace(), ref.GetName(), name)
	}
	return p, c, nil
}

// logOf returns the log of the current (or previous) run of a container.
func (s *store) logOf(ref *pb.PodRef, name string, previous bool) (*containerLog, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, c, err := s.lookupLocked(ref, name)
	switch {
	case err != nil:
		return nil, err
	case previous && c.previous == nil:
		return nil, failedPrecondition("container %q has not restarted: it has no previous log", name)
	case previous:
		return c.previous.log, nil
	case c.current == nil:
		return nil, failedPrecondition("container %q is waiting to start (%s)", name, c.waiting)
	}
	return c.current.log, nil
}

// target is a running container, for exec and attach.
type target struct {
	proc *process
	env  []string
	dir  string
}

func (s *store) runningContainer(ref *pb.PodRef, name string) (target, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, c, err := s.lookupLocked(ref, name)
	if err != nil {
		return target{}, err
	}
	if c.current == nil || c.exited || c.waiting != "" {
		return target{}, failedPrecondition("container %q of pod %s/%s is not running", name, ref.GetNamespace(),
			ref.GetName())
	}
	return target{proc: c.current, env: containerEnv(p.spec, c.spec), dir: workingDir(p, c.spec)}, nil
}

// checkRunning answers whether a pod has a running container (port-forward needs one).
func (s *store) checkRunning(ref *pb.PodRef) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, _, err := s.lookupLocked(ref, "")
	if err != nil {
		return err
	}
	for _, c := range p.runs() {
		if c.current != nil && !c.exited && c.waiting == "" {
			return nil
		}
	}
	return failedPrecondition("pod %s/%s has no running container", ref.GetNamespace(), ref.GetName())
}
