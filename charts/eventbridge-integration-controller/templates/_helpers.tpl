{{- define "ebi.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ebi.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "ebi.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ebi.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "ebi.labels" -}}
{{ include "ebi.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "ebi.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "ebi.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "ebi.leaderElection" -}}
{{- if kindIs "bool" .Values.controller.leaderElection.enabled -}}
{{- .Values.controller.leaderElection.enabled -}}
{{- else -}}
{{- gt (int .Values.replicaCount) 1 -}}
{{- end -}}
{{- end -}}

{{/* What the controller does with its own CRD, in a ClusterRole or a Role. */}}
{{- define "ebi.crdRules" -}}
- apiGroups: ["eventbridge.dev"]
  resources: ["eventbridgeintegrations"]
  verbs: ["get", "list", "watch", "patch", "update"]
- apiGroups: ["eventbridge.dev"]
  resources: ["eventbridgeintegrations/status"]
  verbs: ["get", "patch", "update"]
- apiGroups: ["eventbridge.dev"]
  resources: ["eventbridgeintegrations/finalizers"]
  verbs: ["update"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end -}}
