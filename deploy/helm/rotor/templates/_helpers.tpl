{{/* Names and labels. */}}
{{- define "rotor.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "rotor.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Labels beside the selector labels (pod templates add these to theirs). */}}
{{- define "rotor.commonLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "rotor.labels" -}}
app.kubernetes.io/name: {{ include "rotor.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{ include "rotor.commonLabels" . }}
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "worker"). */}}
{{- define "rotor.selectorLabels" -}}
app.kubernetes.io/name: {{ include "rotor.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "rotor.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "rotor.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
The image, pinned: a digest, else a tag (default: the chart's appVersion); `latest` is refused.
*/}}
{{- define "rotor.image" -}}
{{- $repository := required "image.repository is required: the registry path of the image built from rotor's Dockerfile (docker build -t REGISTRY/rotor:TAG .)" .Values.image.repository -}}
{{- $tag := toString (default .Chart.AppVersion .Values.image.tag) -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $repository .Values.image.digest -}}
{{- else if eq $tag "latest" -}}
{{- fail "image.tag must not be `latest`: pin a version (or image.digest), so every worker of a rollout runs the same code" -}}
{{- else -}}
{{- printf "%s:%s" $repository $tag -}}
{{- end -}}
{{- end -}}

{{/* The temporal-setup Job's image (temporalio/admin-tools), pinned like rotor's: a digest, else a tag. */}}
{{- define "rotor.temporalSetupImage" -}}
{{- with .Values.temporalSetup.image -}}
{{- $repository := required "temporalSetup.image.repository is required: temporalio/admin-tools, or your mirror of it" .repository -}}
{{- $tag := toString .tag -}}
{{- if .digest -}}
{{- printf "%s@%s" $repository .digest -}}
{{- else if or (not $tag) (eq $tag "latest") -}}
{{- fail "temporalSetup.image.tag must be a version (not empty, not `latest`), e.g. your Temporal Service's, or set temporalSetup.image.digest" -}}
{{- else -}}
{{- printf "%s:%s" $repository $tag -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
The custom search attributes rotor's workflows upsert (workflows/search-attributes.ts), as the
Name=Type list temporal-namespace.sh reads; test/unit/helm-chart.test.ts keeps them in step.
*/}}
{{- define "rotor.searchAttributes" -}}RotorSecretId=Keyword RotorPhase=Keyword RotorOutcome=Keyword{{- end -}}

{{/*
The worker pod's checksum/inventory: the inventory's content (inventory.content), and
inventory.revision when set, the only sign of a change to an inventory.existingConfigMap.
*/}}
{{- define "rotor.inventoryChecksum" -}}
{{- if .Values.inventory.revision -}}
{{- printf "%s\nrevision: %s" .Values.inventory.content (toString .Values.inventory.revision) | sha256sum -}}
{{- else -}}
{{- .Values.inventory.content | sha256sum -}}
{{- end -}}
{{- end -}}

{{/* Checks that span values; included by every template, so each fails the same way. */}}
{{- define "rotor.validate" -}}
{{- $ := . -}}
{{- $_ := required "temporal.address is required: Temporal's frontend as host:port (e.g. temporal-frontend.temporal.svc.cluster.local:7233)" .Values.temporal.address -}}
{{- $_ = required "vault.address is required: Vault's API URL (e.g. https://vault.vault.svc:8200)" .Values.vault.address -}}
{{- if and .Values.secrets.existingSecret .Values.secrets.envFile -}}
{{- fail "set one of secrets.existingSecret and secrets.envFile, not both" -}}
{{- end -}}
{{- if not (or .Values.secrets.existingSecret .Values.secrets.envFile) -}}
{{- fail "secrets.existingSecret is required: the name of a Secret you created with the worker's credentials (keys ROTOR_VAULT_ROLE_ID, ROTOR_VAULT_SECRET_ID, ROTOR_DATABASE_URL, ROTOR_CODEC_KEY; see the chart's README). The chart never holds a secret itself. (Or set secrets.envFile for the Vault Agent injector.)" -}}
{{- end -}}
{{- if and .Values.inventory.content .Values.inventory.existingConfigMap -}}
{{- fail "set one of inventory.content and inventory.existingConfigMap, not both" -}}
{{- end -}}
{{- if not (or .Values.inventory.content .Values.inventory.existingConfigMap) -}}
{{- fail "the inventory is required: --set-file inventory.content=path/to/inventory.yaml, or inventory.existingConfigMap naming a ConfigMap that holds it" -}}
{{- end -}}
{{- if and .Values.temporal.tls.existingSecret (not .Values.temporal.tls.enabled) -}}
{{- fail "temporal.tls.existingSecret is set but temporal.tls.enabled is false: enable TLS or unset it" -}}
{{- end -}}
{{- if and .Values.temporal.tls.serverName (not .Values.temporal.tls.enabled) -}}
{{- fail "temporal.tls.serverName is set but temporal.tls.enabled is false: enable TLS or unset it" -}}
{{- end -}}
{{- if ne (empty .Values.temporal.tls.certKey) (empty .Values.temporal.tls.keyKey) -}}
{{- fail "mTLS needs the client certificate and its key: set both temporal.tls.certKey and temporal.tls.keyKey, or neither" -}}
{{- end -}}
{{- if and .Values.temporal.tls.certKey (not .Values.temporal.tls.existingSecret) -}}
{{- fail "temporal.tls.certKey/keyKey name keys of temporal.tls.existingSecret, which is not set" -}}
{{- end -}}
{{- if lt (int .Values.worker.shutdownGraceSeconds) 1 -}}
{{- fail "worker.shutdownGraceSeconds must be a positive number of seconds" -}}
{{- end -}}
{{- if lt (int .Values.worker.shutdownMarginSeconds) 5 -}}
{{- fail "worker.shutdownMarginSeconds must be at least 5: the pod's grace period must outlast the worker's own" -}}
{{- end -}}
{{- if .Values.codec.enabled -}}
{{- $_ = required "codec.uiOrigin is required with codec.enabled: the Temporal UI's origin, e.g. https://temporal.example.com" .Values.codec.uiOrigin -}}
{{- end -}}
{{- end -}}

{{- define "rotor.inventoryConfigMapName" -}}
{{- default (printf "%s-inventory" (include "rotor.fullname" .)) .Values.inventory.existingConfigMap -}}
{{- end -}}

{{/* Where the inventory is mounted; ROTOR_INVENTORY points here. */}}
{{- define "rotor.inventoryPath" -}}/etc/rotor/inventory/inventory.yaml{{- end -}}

{{/*
The worker's non-secret settings (config/environment.ts), the data of its ConfigMap; every key
becomes an environment variable of the same name. Optional settings are left out when unset.
*/}}
{{- define "rotor.workerSettings" -}}
ROTOR_TEMPORAL_ADDRESS: {{ .Values.temporal.address | quote }}
ROTOR_TEMPORAL_NAMESPACE: {{ .Values.temporal.namespace | quote }}
ROTOR_TASK_QUEUE: {{ .Values.temporal.taskQueue | quote }}
ROTOR_TEMPORAL_TLS: {{ ternary "true" "false" (.Values.temporal.tls.enabled | default false) | quote }}
{{- with .Values.temporal.tls }}
{{- if and .existingSecret .caKey }}
ROTOR_TEMPORAL_TLS_CA_FILE: {{ printf "/etc/rotor/temporal-tls/%s" .caKey | quote }}
{{- end }}
{{- if .certKey }}
ROTOR_TEMPORAL_TLS_CERT_FILE: {{ printf "/etc/rotor/temporal-tls/%s" .certKey | quote }}
ROTOR_TEMPORAL_TLS_KEY_FILE: {{ printf "/etc/rotor/temporal-tls/%s" .keyKey | quote }}
{{- end }}
{{- if .serverName }}
ROTOR_TEMPORAL_TLS_SERVER_NAME: {{ .serverName | quote }}
{{- end }}
{{- end }}
ROTOR_VAULT_ADDR: {{ .Values.vault.address | quote }}
ROTOR_VAULT_KV_MOUNT: {{ .Values.vault.kvMount | quote }}
{{- with .Values.vault.identityAudience }}
ROTOR_IDENTITY_AUDIENCE: {{ . | quote }}
{{- end }}
{{- with .Values.vault.identityIssuer }}
ROTOR_IDENTITY_ISSUER: {{ . | quote }}
{{- end }}
ROTOR_INVENTORY: {{ include "rotor.inventoryPath" . | quote }}
ROTOR_LOG_LEVEL: {{ .Values.worker.logLevel | quote }}
ROTOR_RECONCILE_SCHEDULES: {{ ternary "true" "false" (.Values.worker.reconcileSchedules | default false) | quote }}
ROTOR_HEALTH_LISTEN: {{ printf "0.0.0.0:%d" (int .Values.worker.healthPort) | quote }}
ROTOR_SHUTDOWN_GRACE: {{ printf "%ds" (int .Values.worker.shutdownGraceSeconds) | quote }}
{{- if .Values.metrics.enabled }}
ROTOR_METRICS_LISTEN: {{ printf "0.0.0.0:%d" (int .Values.metrics.port) | quote }}
{{- end }}
{{- end -}}

{{/* The codec server's non-secret settings. */}}
{{- define "rotor.codecSettings" -}}
ROTOR_CODEC_LISTEN: {{ printf "0.0.0.0:%d" (int .Values.codec.port) | quote }}
ROTOR_CODEC_UI_ORIGIN: {{ .Values.codec.uiOrigin | quote }}
ROTOR_LOG_LEVEL: {{ .Values.worker.logLevel | quote }}
{{- end -}}

{{/* env entries for a settings dict held in ConfigMap `name`: (dict "settings" $dict "name" $cm). */}}
{{- define "rotor.configMapEnv" -}}
{{- range $key := keys .settings | sortAlpha }}
- name: {{ $key }}
  valueFrom:
    configMapKeyRef:
      name: {{ $.name }}
      key: {{ $key }}
{{- end }}
{{- end -}}

{{/* env entries from secrets.existingSecret: (dict "root" $ "variables" (list "ROTOR_CODEC_KEY" …)). */}}
{{- define "rotor.secretEnv" -}}
{{- $keys := dict "ROTOR_VAULT_ROLE_ID" .root.Values.secrets.keys.vaultRoleId "ROTOR_VAULT_SECRET_ID" .root.Values.secrets.keys.vaultSecretId "ROTOR_DATABASE_URL" .root.Values.secrets.keys.databaseUrl "ROTOR_CODEC_KEY" .root.Values.secrets.keys.codecKey "ROTOR_CODEC_TOKEN" .root.Values.secrets.keys.codecToken -}}
{{- if .root.Values.secrets.existingSecret }}
{{- range $variable := .variables }}
- name: {{ $variable }}
  valueFrom:
    secretKeyRef:
      name: {{ $.root.Values.secrets.existingSecret }}
      key: {{ get $keys $variable }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
The container's command: (dict "root" $ "command" (list …)). With secrets.envFile, /bin/sh exports
the file's KEY=value lines first, then execs the same command.
*/}}
{{- define "rotor.command" -}}
{{- if .root.Values.secrets.envFile -}}
{{- toYaml (concat (list "/bin/sh" "-c" "set -a && . \"$0\" && set +a && exec \"$@\"" .root.Values.secrets.envFile) .command) -}}
{{- else -}}
{{- toYaml .command -}}
{{- end -}}
{{- end -}}
