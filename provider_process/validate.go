package main

import (
	"fmt"

	pb "vkprocess/gen/virtualkubelet/provider/v1"
)

// validate refuses, with a message naming the Kubernetes field, what the process provider cannot run as asked.
// Host processes have no image, no mount namespace and no security sandbox, so the provider refuses volume mounts,
// probes, lifecycle hooks, security settings, terminals, stdin, sidecars and runtime-only env values rather than
// ignore them. It ignores what is only a hint or cannot change how a process behaves: the image and its pull
// policy and credentials, resources, ports, DNS settings, host aliases, priority and runtime class.
func validate(pod *pb.Pod) error {
	if pod.GetMetadata().GetUid() == "" {
		return fmt.Errorf("metadata.uid: required")
	}
	if len(pod.GetContainers()) == 0 {
		return fmt.Errorf("spec.containers: at least one container is required")
	}
	if _, ok := pb.RestartPolicy_name[int32(pod.GetRestartPolicy())]; !ok {
		return fmt.Errorf("spec.restartPolicy: unknown value %d", pod.GetRestartPolicy())
	}
	for i, volume := range pod.GetVolumes() {
		switch source := volume.GetSource().(type) {
		case *pb.Volume_EmptyDir, *pb.Volume_Files:
			// Accepted; only mounting one is refused (see validateContainer).
		case *pb.Volume_Unsupported:
			kind := source.Unsupported.GetKind()
			return fmt.Errorf("spec.volumes[%d].%s: %s volumes are not supported by the process provider", i, kind, kind)
		case *pb.Volume_PersistentVolumeClaim:
			return fmt.Errorf("spec.volumes[%d].persistentVolumeClaim: not supported by the process provider", i)
		case *pb.Volume_AzureFile:
			return fmt.Errorf("spec.volumes[%d].azureFile: not supported by the process provider", i)
		default:
			return fmt.Errorf("spec.volumes[%d]: volume source not set or not known to this provider", i)
		}
	}
	names := map[string]bool{}
	for _, group := range []struct {
		field      string
		containers []*pb.Container
		init       bool
	}{{"initContainers", pod.GetInitContainers(), true}, {"containers", pod.GetContainers(), false}} {
		for i, container := range group.containers {
			path := fmt.Sprintf("spec.%s[%d]", group.field, i)
			if container.GetName() == "" || names[container.GetName()] {
				return fmt.Errorf("%s.name: missing or not unique", path)
			}
			names[container.GetName()] = true
			if err := validateContainer(path, container, group.init); err != nil {
				return err
			}
		}
	}
	return nil
}

func validateContainer(path string, c *pb.Container, init bool) error {
	switch {
	case len(c.GetCommand()) == 0:
		return fmt.Errorf("%s.command: required: the process provider runs the command on its host and has no "+
			"image entrypoint", path)
	case !known(pb.ImagePullPolicy_name, int32(c.GetImagePullPolicy())):
		return fmt.Errorf("%s.imagePullPolicy: unknown value %d", path, c.GetImagePullPolicy())
	case !known(pb.TerminationMessagePolicy_name, int32(c.GetTerminationMessagePolicy())):
		return fmt.Errorf("%s.terminationMessagePolicy: unknown value %d", path, c.GetTerminationMessagePolicy())
	case !known(pb.ContainerRestartPolicy_name, int32(c.GetRestartPolicy())):
		return fmt.Errorf("%s.restartPolicy: unknown value %d", path, c.GetRestartPolicy())
	case init && c.GetRestartPolicy() == pb.ContainerRestartPolicy_CONTAINER_RESTART_POLICY_ALWAYS:
		return fmt.Errorf("%s.restartPolicy: sidecar containers are not supported by the process provider", path)
	case len(c.GetVolumeMounts()) > 0:
		return fmt.Errorf("%s.volumeMounts[0]: the process provider runs host processes and cannot mount volumes "+
			"(set automountServiceAccountToken: false for the service-account token)", path)
	case c.GetLivenessProbe() != nil:
		return fmt.Errorf("%s.livenessProbe: probes are not supported by the process provider", path)
	case c.GetReadinessProbe() != nil:
		return fmt.Errorf("%s.readinessProbe: probes are not supported by the process provider", path)
	case c.GetStartupProbe() != nil:
		return fmt.Errorf("%s.startupProbe: probes are not supported by the process provider", path)
	case c.GetLifecycle() != nil:
		return fmt.Errorf("%s.lifecycle: lifecycle hooks are not supported by the process provider", path)
	case c.GetTty():
		return fmt.Errorf("%s.tty: terminals are not supported by the process provider", path)
	case c.GetStdin():
		return fmt.Errorf("%s.stdin: attaching to standard input is not supported by the process provider", path)
	}
	if sc := c.GetSecurityContext(); sc != nil {
		for _, setting := range []struct {
			field string
			set   bool
		}{
			{"runAsUser", sc.RunAsUser != nil},
			{"runAsGroup", sc.RunAsGroup != nil},
			{"runAsNonRoot", sc.GetRunAsNonRoot()},
			{"readOnlyRootFilesystem", sc.GetReadOnlyRootFilesystem()},
			{"privileged", sc.GetPrivileged()},
			{"capabilities", len(sc.GetCapabilities().GetAdd())+len(sc.GetCapabilities().GetDrop()) > 0},
		} {
			if setting.set {
				return fmt.Errorf("%s.securityContext.%s: the process provider cannot enforce security settings",
					path, setting.field)
			}
		}
	}
	for i, variable := range c.GetEnv() {
		if _, runtime := variable.GetSource().(*pb.EnvVar_RuntimeValue); runtime {
			return fmt.Errorf("%s.env[%d].valueFrom.fieldRef: the process provider reports no pod or host IP, so "+
				"it cannot provide %s", path, i, variable.GetName())
		}
	}
	return nil
}

func known(names map[int32]string, value int32) bool {
	_, ok := names[value]
	return ok
}
