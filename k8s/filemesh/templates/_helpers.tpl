{{/* Names are fixed (auth, user, …, gateway, pgbouncer): gateway/envoy.yaml, mesh/*.yaml and
the kit's caller identity (service account name = service name) all rely on them. */}}

{{- define "filemesh.checkNamespace" -}}
{{- if ne .Release.Namespace .Values.namespace -}}
{{- fail (printf "filemesh must be installed into namespace %q (gateway/envoy.yaml and mesh/*.yaml address it); got %q" .Values.namespace .Release.Namespace) -}}
{{- end -}}
{{- end -}}

{{- define "filemesh.labels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/part-of: filemesh
app.kubernetes.io/component: {{ .component | default "service" }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{- define "filemesh.selector" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/part-of: filemesh
{{- end -}}

{{/* The service's settings: defaults deep-merged with services.<name>. */}}
{{- define "filemesh.service" -}}
{{- $svc := index .root.Values.services .name -}}
{{- toYaml (mergeOverwrite (deepCopy .root.Values.defaults) (deepCopy $svc)) -}}
{{- end -}}

{{- define "filemesh.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}:{{ $tag }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ $tag }}
{{- end -}}
{{- end -}}

{{- define "filemesh.fqdn" -}}
{{ .name }}.{{ .root.Values.namespace }}.svc.cluster.local
{{- end -}}

{{/* Pod and container hardening shared by every workload. */}}
{{- define "filemesh.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
fsGroup: {{ .uid }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "filemesh.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* Istio: sidecar injection on or off, the app waits for its proxy, and the proxy drains
after the app (native sidecars on Kubernetes ≥ 1.29, see k8s/values/istiod.yaml). */}}
{{- define "filemesh.meshLabels" -}}
sidecar.istio.io/inject: {{ .Values.mesh.enabled | quote }}
{{- end -}}

{{- define "filemesh.meshAnnotations" -}}
{{- if .Values.mesh.enabled }}
proxy.istio.io/config: '{"holdApplicationUntilProxyStarts": true}'
{{- end }}
{{- end -}}

{{- define "filemesh.topologySpread" -}}
- maxSkew: 1
  topologyKey: topology.kubernetes.io/zone
  whenUnsatisfiable: {{ .spread.whenUnsatisfiable }}
  labelSelector:
    matchLabels:
      {{- include "filemesh.selector" . | nindent 6 }}
  matchLabelKeys: [pod-template-hash]
- maxSkew: 1
  topologyKey: kubernetes.io/hostname
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      {{- include "filemesh.selector" . | nindent 6 }}
  matchLabelKeys: [pod-template-hash]
{{- end -}}
