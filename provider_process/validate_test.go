package main

import (
	"strings"
	"testing"

	pb "vkprocess/gen/virtualkubelet/provider/v1"
)

func runnablePod() *pb.Pod {
	return &pb.Pod{
		Metadata:   &pb.PodMetadata{Uid: "u1", Namespace: "ns", Name: "p"},
		Containers: []*pb.Container{{Name: "main", Command: []string{"sh", "-c", "echo hi"}}},
	}
}

func TestARunnablePodIsAccepted(t *testing.T) {
	pod := runnablePod()
	pod.Volumes = []*pb.Volume{{Name: "scratch", Source: &pb.Volume_EmptyDir{EmptyDir: &pb.EmptyDirVolume{}}}}
	if err := validate(pod); err != nil {
		t.Fatalf("validate = %v, want nil", err)
	}
}

func TestRefusalsNameTheField(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(*pb.Pod)
		field string
	}{
		{"no command", func(p *pb.Pod) { p.Containers[0].Command = nil }, "spec.containers[0].command"},
		{"unset volume source", func(p *pb.Pod) { p.Volumes = []*pb.Volume{{Name: "v"}} }, "spec.volumes[0]"},
		{"unknown restart policy", func(p *pb.Pod) { p.RestartPolicy = 42 }, "spec.restartPolicy"},
		{"volume mount", func(p *pb.Pod) {
			p.Containers[0].VolumeMounts = []*pb.VolumeMount{{Name: "v", MountPath: "/v"}}
		}, "spec.containers[0].volumeMounts[0]"},
		{"readiness probe", func(p *pb.Pod) {
			p.Containers[0].ReadinessProbe = &pb.Probe{Handler: &pb.Probe_Exec{Exec: &pb.ExecAction{}}}
		}, "spec.containers[0].readinessProbe"},
		{"runtime value", func(p *pb.Pod) {
			p.Containers[0].Env = []*pb.EnvVar{{Name: "IP", Source: &pb.EnvVar_RuntimeValue{
				RuntimeValue: pb.RuntimeValue_RUNTIME_VALUE_POD_IP,
			}}}
		}, "spec.containers[0].env[0].valueFrom.fieldRef"},
		{"sidecar", func(p *pb.Pod) {
			p.InitContainers = []*pb.Container{{Name: "side", Command: []string{"true"},
				RestartPolicy: pb.ContainerRestartPolicy_CONTAINER_RESTART_POLICY_ALWAYS}}
		}, "spec.initContainers[0].restartPolicy"},
		{"duplicate name", func(p *pb.Pod) {
			p.InitContainers = []*pb.Container{{Name: "main", Command: []string{"true"}}}
		}, "spec.containers[0].name"},
		{"privileged", func(p *pb.Pod) {
			privileged := true
			p.Containers[0].SecurityContext = &pb.SecurityContext{Privileged: &privileged}
		}, "spec.containers[0].securityContext.privileged"},
	}
	for _, c := range cases {
		pod := runnablePod()
		c.edit(pod)
		err := validate(pod)
		if err == nil || !strings.HasPrefix(err.Error(), c.field) {
			t.Errorf("%s: validate = %v, want an error naming %s", c.name, err, c.field)
		}
	}
}
