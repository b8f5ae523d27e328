{{/* The name of every object: the release name, or release-chart. */}}
{{- define "imdsguard.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "imdsguard.selectorLabels" -}}
app.kubernetes.io/name: imdsguard
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "imdsguard.labels" -}}
{{ include "imdsguard.selectorLabels" . }}
app.kubernetes.io/part-of: imdsguard
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* The proxy's pods: a name of their own, so that neither the controller's
selector, Service nor PodDisruptionBudget takes them in. */}}
{{- define "imdsguard.proxySelectorLabels" -}}
app.kubernetes.io/name: imdsguard-proxy
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "imdsguard.proxyLabels" -}}
{{ include "imdsguard.proxySelectorLabels" . }}
app.kubernetes.io/component: proxy
app.kubernetes.io/part-of: imdsguard
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{- define "imdsguard.webhookService" -}}{{ include "imdsguard.fullname" . }}-webhook{{- end -}}
{{- define "imdsguard.certSecret" -}}{{ include "imdsguard.fullname" . }}-webhook-cert{{- end -}}
{{- define "imdsguard.leaseName" -}}{{ include "imdsguard.fullname" . }}-controller{{- end -}}

{{/* The namespaces the webhook never sees: the exempt ones and the release's. */}}
{{- define "imdsguard.excluded" -}}
{{- $ns := .Values.exemptNamespaces | default list -}}
{{- if not (has .Release.Namespace $ns) -}}{{- $ns = append $ns .Release.Namespace -}}{{- end -}}
{{- toJson $ns -}}
{{- end -}}
