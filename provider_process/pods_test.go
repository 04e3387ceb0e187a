package main

import (
	"testing"
	"time"

	pb "vkprocess/gen/virtualkubelet/provider/v1"
)

func TestRestartPolicies(t *testing.T) {
	cases := []struct {
		policy pb.RestartPolicy
		init   bool
		code   int32
		want   bool
	}{
		{pb.RestartPolicy_RESTART_POLICY_NEVER, false, 1, false},
		{pb.RestartPolicy_RESTART_POLICY_ON_FAILURE, false, 1, true},
		{pb.RestartPolicy_RESTART_POLICY_ON_FAILURE, false, 0, false},
		{pb.RestartPolicy_RESTART_POLICY_ALWAYS, false, 0, true},
		{pb.RestartPolicy_RESTART_POLICY_UNSPECIFIED, false, 0, true},
		{pb.RestartPolicy_RESTART_POLICY_ALWAYS, true, 0, false},
		{pb.RestartPolicy_RESTART_POLICY_ALWAYS, true, 2, true},
	}
	for _, c := range cases {
		if got := restarts(c.policy, c.init, c.code); got != c.want {
			t.Errorf("restarts(%v, init=%v, %d) = %v, want %v", c.policy, c.init, c.code, got, c.want)
		}
	}
}

// TestAPodRunsItsInitContainerThenItsContainer runs real processes: an init container that writes a file in the
// pod's directory, then a container that reads it; the pod ends Succeeded and the log holds what it printed.
func TestAPodRunsItsInitContainerThenItsContainer(t *testing.T) {
	st := newStore(t.TempDir())
	records, events := st.watch()
	defer st.unwatch(events)
	if len(records) != 0 {
		t.Fatalf("a new store has %d pods", len(records))
	}
	pod := &pb.Pod{
		Metadata:       &pb.PodMetadata{Uid: "uid-1", Namespace: "ns", Name: "p"},
		RestartPolicy:  pb.RestartPolicy_RESTART_POLICY_NEVER,
		InitContainers: []*pb.Container{{Name: "init", Command: []string{"sh", "-c", "echo ready > flag"}}},
		Containers:     []*pb.Container{{Name: "main", Command: []string{"sh", "-c", "cat flag"}}},
	}
	if _, existed, err := st.create(pod); err != nil || existed {
		t.Fatalf("create = %v, existed=%v", err, existed)
	}
	if _, existed, _ := st.create(pod); !existed {
		t.Fatal("a second create of the same UID should answer already existed")
	}

	deadline := time.After(30 * time.Second)
	for phase := pb.PodPhase_POD_PHASE_UNSPECIFIED; phase != pb.PodPhase_POD_PHASE_SUCCEEDED; {
		select {
		case event := <-events:
			phase = event.GetPod().GetStatus().GetPhase()
			if phase == pb.PodPhase_POD_PHASE_FAILED {
				t.Fatalf("the pod failed: %v", event.GetPod().GetStatus())
			}
		case <-deadline:
			t.Fatal("the pod did not succeed within 30s")
		}
	}
	log, err := st.logOf(&pb.PodRef{Uid: "uid-1"}, "main", false)
	if err != nil {
		t.Fatal(err)
	}
	reader, err := openLog(log.path)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	entries, err := reader.next()
	if err != nil || len(entries) != 1 || string(entries[0].Content) != "ready" {
		t.Fatalf("the main container's log = %v, %v; want one line \"ready\"", entries, err)
	}

	if state, _ := st.delete(&pb.PodRef{Uid: "uid-1"}, nil); state != pb.DeletionState_DELETION_STATE_GONE {
		t.Fatalf("deleting a finished pod answered %v, want GONE", state)
	}
	if _, ok := st.get("uid-1"); ok {
		t.Fatal("the deleted pod is still there")
	}
}

// TestAFailingContainerBacksOffAndDeletionEndsTheBackOff: restart policy OnFailure, a command that fails; the
// container waits in CrashLoopBackOff with its last termination, and a delete during the back-off completes with a
// `deleted` event without waiting for the back-off.
func TestAFailingContainerBacksOffAndDeletionEndsTheBackOff(t *testing.T) {
	st := newStore(t.TempDir())
	_, events := st.watch()
	defer st.unwatch(events)
	pod := &pb.Pod{
		Metadata:      &pb.PodMetadata{Uid: "uid-2", Namespace: "ns", Name: "crash"},
		RestartPolicy: pb.RestartPolicy_RESTART_POLICY_ON_FAILURE,
		Containers:    []*pb.Container{{Name: "main", Command: []string{"sh", "-c", "exit 1"}}},
	}
	if _, _, err := st.create(pod); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(30 * time.Second)
	next := func() *pb.WatchPodsResponse {
		select {
		case event := <-events:
			return event
		case <-deadline:
			t.Fatal("no event within 30s")
			return nil
		}
	}
	for {
		status := next().GetPod().GetStatus().GetContainerStatuses()[0]
		if status.GetState().GetWaiting().GetReason() == "CrashLoopBackOff" {
			if code := status.GetLastTerminationState().GetExitCode(); code != 1 {
				t.Fatalf("last termination exit code = %d, want 1", code)
			}
			if status.GetState().GetWaiting() == nil || status.GetRestartCount() != 0 {
				t.Fatalf("status in back-off = %v", status)
			}
			break
		}
	}
	if state, _ := st.delete(&pb.PodRef{Uid: "uid-2"}, nil); state != pb.DeletionState_DELETION_STATE_TERMINATING {
		t.Fatalf("deleting a pod in back-off answered %v, want TERMINATING", state)
	}
	for {
		if deleted := next().GetDeleted(); deleted != nil {
			if !deleted.GetRequested() || deleted.GetRef().GetUid() != "uid-2" {
				t.Fatalf("deleted event = %v", deleted)
			}
			return
		}
	}
}
