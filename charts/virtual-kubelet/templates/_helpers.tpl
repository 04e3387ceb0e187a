{{/*
The chart's name (app.kubernetes.io/name).
*/}}
{{- define "virtual-kubelet.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name: the prefix of every resource name. The release name alone when it already holds the chart name.
*/}}
{{- define "virtual-kubelet.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "virtual-kubelet.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels of every resource.
*/}}
{{- define "virtual-kubelet.labels" -}}
helm.sh/chart: {{ include "virtual-kubelet.chart" . }}
{{ include "virtual-kubelet.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Labels that select the controller pods.
*/}}
{{- define "virtual-kubelet.selectorLabels" -}}
app.kubernetes.io/name: {{ include "virtual-kubelet.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The Node the controller registers.
*/}}
{{- define "virtual-kubelet.nodeName" -}}
{{- default (include "virtual-kubelet.fullname" .) .Values.nodeName }}
{{- end }}

{{/*
The controller's ServiceAccount.
*/}}
{{- define "virtual-kubelet.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "virtual-kubelet.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The uninstall hook's ServiceAccount: its own, with the rights to drain and delete this node only.
*/}}
{{- define "virtual-kubelet.uninstallServiceAccountName" -}}
{{- printf "%s-uninstall" (include "virtual-kubelet.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The controller image.
*/}}
{{- define "virtual-kubelet.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
Whether the provider runs as a sidecar container in the controller's pod.
*/}}
{{- define "virtual-kubelet.providerSidecar" -}}
{{- if ne .Values.provider.type "external" }}true{{ end }}
{{- end }}

{{/*
The sidecar provider's image: ghcr.io/virtual-kubelet-py/vk-provider-<type> unless given.
*/}}
{{- define "virtual-kubelet.providerImage" -}}
{{- $p := .Values.provider }}
{{- if and (eq $p.type "custom") (not $p.image.repository) }}
{{- fail "provider.image.repository is required when provider.type is custom" }}
{{- end }}
{{- $repository := default (printf "ghcr.io/virtual-kubelet-py/vk-provider-%s" $p.type) $p.image.repository }}
{{- printf "%s:%s" $repository (default .Chart.AppVersion $p.image.tag) }}
{{- end }}

{{/*
The gRPC address the controller dials.
*/}}
{{- define "virtual-kubelet.providerAddress" -}}
{{- if eq .Values.provider.type "external" }}
{{- required "provider.address is required when provider.type is external" .Values.provider.address }}
{{- else }}
{{- printf "127.0.0.1:%d" (int .Values.provider.port) }}
{{- end }}
{{- end }}

{{/*
Keys of the credentials Secret exposed to the provider: the given ones, else the type's defaults.
*/}}
{{- define "virtual-kubelet.credentialKeys" -}}
{{- $keys := .Values.provider.credentials.keys }}
{{- if not $keys }}
{{- if eq .Values.provider.type "aci" }}
{{- $keys = list "AZURE_TENANT_ID" "AZURE_CLIENT_ID" "AZURE_CLIENT_SECRET" }}
{{- else if eq .Values.provider.type "fargate" }}
{{- $keys = list "AWS_ACCESS_KEY_ID" "AWS_SECRET_ACCESS_KEY" }}
{{- end }}
{{- end }}
{{- toJson (default list $keys) }}
{{- end }}

{{/*
The kubelet API's serving certificate Secret (empty when the controller makes its own).
*/}}
{{- define "virtual-kubelet.tlsSecretName" -}}
{{- if .Values.kubeletAPI.tls.existingSecret }}
{{- .Values.kubeletAPI.tls.existingSecret }}
{{- else if .Values.kubeletAPI.tls.generate }}
{{- printf "%s-kubelet-tls" (include "virtual-kubelet.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/*
Where the controller keeps its node credentials in bootstrap mode.
*/}}
{{- define "virtual-kubelet.stateDir" -}}
/var/lib/vk-controller
{{- end }}

{{/*
Affinity of the controller and hook pods: the given one, else "never on a virtual node" (a controller must not run
on the node it serves, nor on another virtual node: those have no kubelet that runs containers).
*/}}
{{- define "virtual-kubelet.affinity" -}}
{{- if .Values.affinity }}
{{- toYaml .Values.affinity }}
{{- else -}}
nodeAffinity:
  requiredDuringSchedulingIgnoredDuringExecution:
    nodeSelectorTerms:
      - matchExpressions:
          - key: type
            operator: NotIn
            values: ["virtual-kubelet"]
{{- end }}
{{- end }}
