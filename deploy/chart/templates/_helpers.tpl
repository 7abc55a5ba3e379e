{{- define "testwerk.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "testwerk.labels" -}}
app.kubernetes.io/name: testwerk
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "testwerk.selector" -}}
app.kubernetes.io/name: testwerk
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "testwerk.serviceAccountName" -}}
{{- default (include "testwerk.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "testwerk.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "testwerk.storeSecret" -}}
{{- default (printf "%s-store" (include "testwerk.fullname" .)) .Values.store.postgres.existingSecret -}}
{{- end -}}
