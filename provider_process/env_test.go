package main

import (
	"slices"
	"testing"

	pb "vkprocess/gen/virtualkubelet/provider/v1"
)

func TestExpandUnescapesDollarsAndKeepsReferences(t *testing.T) {
	for in, want := range map[string]string{
		"plain": "plain", "$$HOME": "$HOME", "$(POD_IP)": "$(POD_IP)", "a$$$(X)b": "a$$(X)b", "$": "$",
	} {
		if got := expand(in); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLaterVariablesReplaceEarlierOnesAndTheBase(t *testing.T) {
	t.Setenv("PATH", "/provider/bin")
	pod := &pb.Pod{Hostname: "web-0"}
	container := &pb.Container{Env: []*pb.EnvVar{
		{Name: "A", Source: &pb.EnvVar_Value{Value: "1"}},
		{Name: "PATH", Source: &pb.EnvVar_Value{Value: "/pod/bin"}},
		{Name: "A", Source: &pb.EnvVar_Value{Value: "2"}},
	}}

	env := containerEnv(pod, container)

	if envValue(env, "A") != "2" || envValue(env, "PATH") != "/pod/bin" || envValue(env, "HOSTNAME") != "web-0" {
		t.Fatalf("containerEnv = %v", env)
	}
	if slices.Index(env, "A=2") < slices.Index(env, "HOSTNAME=web-0") {
		t.Fatalf("containerEnv = %v: the pod's variables should follow the base ones", env)
	}
}
