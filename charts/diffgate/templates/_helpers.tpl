{{/*
Names and labels.
*/}}
{{- define "diffgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "diffgate.fullname" -}}
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

{{- define "diffgate.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "diffgate.labels" -}}
helm.sh/chart: {{ include "diffgate.chart" . }}
{{ include "diffgate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: diffgate
{{- end }}

{{- define "diffgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "diffgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of a component's objects; call with (dict "root" $ "name" NAME). */}}
{{- define "diffgate.componentLabels" -}}
{{ include "diffgate.labels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{- define "diffgate.componentSelectorLabels" -}}
{{ include "diffgate.selectorLabels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{/* Name of a component's objects: FULLNAME-COMPONENT. */}}
{{- define "diffgate.componentName" -}}
{{- printf "%s-%s" (include "diffgate.fullname" .root) .name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "diffgate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "diffgate.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "diffgate.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
Components, in the order they are rendered. apps hold the GitHub and
GitLab credentials; workers hold the dbt Cloud, Hightouch and warehouse
ones.
*/}}
{{- define "diffgate.componentNames" -}}
github gitlab ciwait manifests impact differ reporter
{{- end }}

{{- define "diffgate.apps" -}}
github gitlab
{{- end }}

{{- define "diffgate.workers" -}}
ciwait manifests impact differ reporter
{{- end }}

{{/*
A component's settings: componentDefaults overridden by components.NAME,
as YAML; read with fromYaml. Call with (dict "root" $ "name" NAME).
*/}}
{{- define "diffgate.component" -}}
{{- $own := index .root.Values.components .name | default dict }}
{{- toYaml (mergeOverwrite (deepCopy .root.Values.componentDefaults) (deepCopy $own)) }}
{{- end }}

{{/* "true" when component NAME is enabled. */}}
{{- define "diffgate.enabled" -}}
{{- $own := index .root.Values.components .name | default dict }}
{{- if $own.enabled }}true{{ end }}
{{- end }}

{{/*
"true" when a secretEnv or secretFiles entry is for component NAME. Call
with (dict "root" $ "entry" ENTRY "name" NAME).
*/}}
{{- define "diffgate.holds" -}}
{{- $holders := list }}
{{- range .entry.components }}
{{- if eq . "apps" }}
{{- $holders = concat $holders (splitList " " (include "diffgate.apps" $.root)) }}
{{- else if eq . "workers" }}
{{- $holders = concat $holders (splitList " " (include "diffgate.workers" $.root)) }}
{{- else }}
{{- $holders = append $holders . }}
{{- end }}
{{- end }}
{{- if has .name $holders }}true{{ end }}
{{- end }}

{{/* Fails on secretEnv and secretFiles entries that cannot be used. */}}
{{- define "diffgate.validateSecrets" -}}
{{- $known := concat (splitList " " (include "diffgate.componentNames" .)) (list "apps" "workers") }}
{{- range $i, $e := .Values.secretEnv }}
{{- if not (and $e.name $e.secretName $e.key) }}
{{- fail (printf "secretEnv[%d]: name, secretName and key are all required" $i) }}
{{- end }}
{{- if not (regexMatch "^[A-Za-z_][A-Za-z0-9_]*$" $e.name) }}
{{- fail (printf "secretEnv[%d].name %q: use letters, digits and _ (it is the ${NAME} of the config)" $i $e.name) }}
{{- end }}
{{- if hasKey $e "value" }}
{{- fail (printf "secretEnv[%d] (%s) has a value: credentials come only from a Secret (secretName and key)" $i $e.name) }}
{{- end }}
{{- if not $e.components }}
{{- fail (printf "secretEnv[%d] (%s): list the components that use it (names, or apps / workers)" $i $e.name) }}
{{- end }}
{{- range $e.components }}
{{- if not (has . $known) }}
{{- fail (printf "secretEnv[%d] (%s): unknown component %q; use %s" $i $e.name . (join ", " $known)) }}
{{- end }}
{{- end }}
{{- end }}
{{- range $i, $e := .Values.secretFiles }}
{{- if not (and $e.secretName $e.mountPath) }}
{{- fail (printf "secretFiles[%d]: secretName and mountPath are required" $i) }}
{{- end }}
{{- if not $e.components }}
{{- fail (printf "secretFiles[%d] (%s): list the components that use it (names, or apps / workers)" $i $e.secretName) }}
{{- end }}
{{- range $e.components }}
{{- if not (has . $known) }}
{{- fail (printf "secretFiles[%d] (%s): unknown component %q; use %s" $i $e.secretName . (join ", " $known)) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The NATS URL: the bundled NATS chart's service, or externalNats.url.
*/}}
{{- define "diffgate.natsURL" -}}
{{- if .Values.nats.enabled }}
{{- $name := "" }}
{{- if .Values.nats.fullnameOverride }}
{{- $name = .Values.nats.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains "nats" .Release.Name }}
{{- $name = .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name = printf "%s-nats" .Release.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- printf "nats://%s.%s.svc:4222" $name .Release.Namespace }}
{{- else if .Values.externalNats.url }}
{{- .Values.externalNats.url }}
{{- else }}
{{- fail "NATS: set externalNats.url to your NATS server (nats://HOST:4222), or nats.enabled: true to install the NATS chart with this release" }}
{{- end }}
{{- end }}

{{- define "diffgate.natsCredsDir" -}}/etc/diffgate/nats/creds{{- end }}
{{- define "diffgate.natsTLSDir" -}}/etc/diffgate/nats/tls{{- end }}
{{- define "diffgate.configDir" -}}/etc/diffgate{{- end }}

{{/*
diffgate.yaml: config with server.listen and the NATS connection set by the
chart.
*/}}
{{- define "diffgate.config" -}}
{{- $cfg := deepCopy (.Values.config | default dict) }}
{{- $server := $cfg.server | default dict }}
{{- $listen := printf ":%v" .Values.port }}
{{- if and $server.listen (ne (toString $server.listen) $listen) }}
{{- fail (printf "config.server.listen is set by the chart from port (%s): remove it, or change port" $listen) }}
{{- end }}
{{- $_ := set $server "listen" $listen }}
{{- $_ = set $cfg "server" $server }}
{{- $nats := $cfg.nats | default dict }}
{{- range list "url" "creds_file" "tls" }}
{{- if hasKey $nats . }}
{{- fail (printf "config.nats.%s is set by the chart: use externalNats (or nats.enabled) instead" .) }}
{{- end }}
{{- end }}
{{- $_ = set $nats "url" (include "diffgate.natsURL" .) }}
{{- if and (not .Values.nats.enabled) .Values.externalNats.credentials.secretName }}
{{- $_ = set $nats "creds_file" (printf "%s/%s" (include "diffgate.natsCredsDir" .) .Values.externalNats.credentials.key) }}
{{- end }}
{{- with .Values.externalNats.tls }}
{{- if and (not $.Values.nats.enabled) .secretName }}
{{- $tls := dict }}
{{- if .ca }}
{{- $_ = set $tls "ca_file" (printf "%s/%s" (include "diffgate.natsTLSDir" $) .ca) }}
{{- end }}
{{- if or .cert .key }}
{{- if not (and .cert .key) }}
{{- fail "externalNats.tls: set both cert and key for mutual TLS, or neither" }}
{{- end }}
{{- $_ = set $tls "cert_file" (printf "%s/%s" (include "diffgate.natsTLSDir" $) .cert) }}
{{- $_ = set $tls "key_file" (printf "%s/%s" (include "diffgate.natsTLSDir" $) .key) }}
{{- end }}
{{- $_ = set $nats "tls" $tls }}
{{- end }}
{{- end }}
{{- $_ = set $cfg "nats" $nats }}
{{- toYaml $cfg }}
{{- end }}

{{/*
The environment of a component's container. Call with
(dict "root" $ "name" NAME "component" SETTINGS); NAME "check" is the
`helm test` pod, which holds every credential.
*/}}
{{- define "diffgate.env" -}}
- name: DIFFGATE_CONFIG
  value: {{ include "diffgate.configDir" .root }}/diffgate.yaml
{{- range .root.Values.secretEnv }}
{{- if or (eq $.name "check") (include "diffgate.holds" (dict "root" $.root "entry" . "name" $.name)) }}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: {{ .key }}
{{- end }}
{{- end }}
{{- with .root.Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- with .component.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Volume mounts of a component (same arguments as diffgate.env). */}}
{{- define "diffgate.volumeMounts" -}}
- name: config
  mountPath: {{ include "diffgate.configDir" .root }}
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- if and (not .root.Values.nats.enabled) .root.Values.externalNats.credentials.secretName }}
- name: nats-creds
  mountPath: {{ include "diffgate.natsCredsDir" .root }}
  readOnly: true
{{- end }}
{{- if and (not .root.Values.nats.enabled) .root.Values.externalNats.tls.secretName }}
- name: nats-tls
  mountPath: {{ include "diffgate.natsTLSDir" .root }}
  readOnly: true
{{- end }}
{{- range $i, $f := .root.Values.secretFiles }}
{{- if or (eq $.name "check") (include "diffgate.holds" (dict "root" $.root "entry" $f "name" $.name)) }}
- name: secret-file-{{ $i }}
  mountPath: {{ $f.mountPath }}
  readOnly: true
{{- end }}
{{- end }}
{{- with .component.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Volumes of a component (same arguments as diffgate.env). */}}
{{- define "diffgate.volumes" -}}
- name: config
  configMap:
    name: {{ include "diffgate.fullname" .root }}-config
- name: tmp
  emptyDir:
    sizeLimit: {{ .component.tmpSizeLimit | default "256Mi" }}
{{- if and (not .root.Values.nats.enabled) .root.Values.externalNats.credentials.secretName }}
- name: nats-creds
  secret:
    secretName: {{ .root.Values.externalNats.credentials.secretName }}
    defaultMode: 0440
{{- end }}
{{- if and (not .root.Values.nats.enabled) .root.Values.externalNats.tls.secretName }}
- name: nats-tls
  secret:
    secretName: {{ .root.Values.externalNats.tls.secretName }}
    defaultMode: 0440
{{- end }}
{{- range $i, $f := .root.Values.secretFiles }}
{{- if or (eq $.name "check") (include "diffgate.holds" (dict "root" $.root "entry" $f "name" $.name)) }}
- name: secret-file-{{ $i }}
  secret:
    secretName: {{ $f.secretName }}
    defaultMode: 0440
{{- with $f.items }}
    items:
      {{- toYaml . | nindent 6 }}
{{- end }}
{{- end }}
{{- end }}
{{- with .component.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end }}
