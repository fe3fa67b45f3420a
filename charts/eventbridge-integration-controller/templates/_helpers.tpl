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
{{- if .Values.apiDestinations.readSecrets }}
# The Secret an API destination's connection names (spec.target.apiDestination.connection
# .secretRef), in the object's own namespace: get by name only, never list or watch.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
{{- end }}
{{- end -}}

{{/* The series the alert rules read: this release's, as its ServiceMonitor labels them. */}}
{{- define "ebi.seriesSelector" -}}
{{- with .Values.metrics.prometheusRule.selector -}}
{{- . -}}
{{- else -}}
job="{{ include "ebi.fullname" . }}-metrics", namespace="{{ .Release.Namespace }}"
{{- end -}}
{{- end -}}

{{/* One alerting rule: name, expr, cfg (its values: for, severity), rule
(metrics.prometheusRule), summary, description. */}}
{{- define "ebi.alert" -}}
- alert: {{ .name }}
  expr: |-
    {{- .expr | nindent 4 }}
  for: {{ .cfg.for }}
  labels:
    severity: {{ .cfg.severity }}
    {{- with .rule.alertLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    summary: {{ .summary | quote }}
    description: {{ .description | quote }}
    runbook_url: {{ printf "%s%s" .rule.runbookBaseUrl (lower .name) | quote }}
{{- end -}}

{{/* The Secrets of external IDs the controller may read: those the chart's policies name,
and tenancy.externalIdSecrets. */}}
{{- define "ebi.externalIdSecrets" -}}
{{- $names := list -}}
{{- range .Values.tenancy.policies -}}
{{- range (.spec.accounts | default list) -}}
{{- with .externalIdSecretRef -}}
{{- $names = append $names .name -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range .Values.tenancy.externalIdSecrets -}}
{{- $names = append $names . -}}
{{- end -}}
{{- $names | uniq | sortAlpha | toJson -}}
{{- end -}}

{{/* Seconds in a duration the schema admits (N followed by s, m or h). */}}
{{- define "ebi.seconds" -}}
{{- $n := regexFind "^[0-9]+" . | int -}}
{{- if hasSuffix "h" . }}{{ mul $n 3600 }}{{ else if hasSuffix "m" . }}{{ mul $n 60 }}{{ else }}{{ $n }}{{ end -}}
{{- end -}}
