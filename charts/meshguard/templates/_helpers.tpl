{{/* Name of the chart, or nameOverride. */}}
{{- define "meshguard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Base name of the release's objects: fullnameOverride, else the release name when it already
contains the chart name, else <release>-<chart>. Kept short enough for every suffix used here.
*/}}
{{- define "meshguard.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "meshguard.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "meshguard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "meshguard.labels" -}}
helm.sh/chart: {{ include "meshguard.chart" . }}
app.kubernetes.io/name: {{ include "meshguard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: meshguard
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component: include with (dict "root" $ "component" "operator"). */}}
{{- define "meshguard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "meshguard.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "meshguard.componentLabels" -}}
{{ include "meshguard.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "meshguard.operatorName" -}}
{{- printf "%s-operator" (include "meshguard.fullname" .) -}}
{{- end -}}

{{- define "meshguard.agentName" -}}
{{- printf "%s-agent" (include "meshguard.fullname" .) -}}
{{- end -}}

{{/* The username the API server gives the agent's ServiceAccount. */}}
{{- define "meshguard.agentUser" -}}
{{- printf "system:serviceaccount:%s:%s" .Release.Namespace (include "meshguard.agentName" .) -}}
{{- end -}}

{{/* A component's image: include with (dict "root" $ "image" .Values.agent.image). */}}
{{- define "meshguard.image" -}}
{{- if .image.digest -}}
{{- printf "%s@%s" .image.repository .image.digest -}}
{{- else -}}
{{- printf "%s:%s" .image.repository (default .root.Chart.AppVersion .root.Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The org, refused early with a message that says what to do (the schema also requires it). */}}
{{- define "meshguard.org" -}}
{{- required "org is required: the name of the MeshOrg the agents enroll in (--set org=<name>)" .Values.org -}}
{{- end -}}
