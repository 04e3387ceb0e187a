package main

import (
	"os"
	"strings"

	pb "vkprocess/gen/virtualkubelet/provider/v1"
)

// defaultPath is the PATH of a container whose pod sets none, when the provider itself has none either.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// baseEnv is what every container starts with before its own env: the provider's PATH and HOME (a host process has
// no image to take them from) and the pod's HOSTNAME, as a container runtime sets it.
func baseEnv(pod *pb.Pod) []string {
	path := os.Getenv("PATH")
	if path == "" {
		path = defaultPath
	}
	env := []string{"PATH=" + path, "HOSTNAME=" + pod.GetHostname()}
	if home := os.Getenv("HOME"); home != "" {
		env = append(env, "HOME="+home)
	}
	return env
}

// containerEnv is the complete environment of a container: the base, then the pod's variables in order, later
// ones replacing earlier ones of the same name (as in Kubernetes).
func containerEnv(pod *pb.Pod, container *pb.Container) []string {
	env := baseEnv(pod)
	index := map[string]int{}
	for i, entry := range env {
		index[strings.SplitN(entry, "=", 2)[0]] = i
	}
	for _, variable := range container.GetEnv() {
		value := variable.GetValue()
		if container.GetRuntimeExpansion() {
			value = expand(value)
		}
		entry := variable.GetName() + "=" + value
		if i, ok := index[variable.GetName()]; ok {
			env[i] = entry
			continue
		}
		index[variable.GetName()] = len(env)
		env = append(env, entry)
	}
	return env
}

// containerArgv is the command and its arguments.
func containerArgv(container *pb.Container) []string {
	argv := append(append([]string{}, container.GetCommand()...), container.GetArgs()...)
	if container.GetRuntimeExpansion() {
		for i, arg := range argv {
			argv[i] = expand(arg)
		}
	}
	return argv
}

// envValue is the value of name in env ("NAME=value" entries), or "".
func envValue(env []string, name string) string {
	value := ""
	for _, entry := range env {
		if key, v, ok := strings.Cut(entry, "="); ok && key == name {
			value = v
		}
	}
	return value
}

// expand applies the Kubernetes expansion rules for runtime values: "$$" becomes "$" and every "$(NAME)" stays as
// it is, because this provider accepts no runtime-only variables (it refuses pods that use them), so no NAME has a
// runtime value.
func expand(text string) string {
	var out strings.Builder
	for i := 0; i < len(text); i++ {
		if text[i] == '$' && i+1 < len(text) && text[i+1] == '$' {
			out.WriteByte('$')
			i++
			continue
		}
		out.WriteByte(text[i])
	}
	return out.String()
}
