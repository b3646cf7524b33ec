"""The chart's templates: fixed Go-template text, chosen and assembled by chart part.

Input: the set of chart parts (see parts.py).
Output: {relative path: text} for `templates/`.

Invariants:
- The text depends on the parts only, never on the app: no name, value or doc of the program
  is ever part of a template, so user strings can only reach the output as data.
- Every value printed into YAML goes through `quote` (strings: Go's %q, a valid YAML
  double-quoted scalar for any text) or `toJson` (numbers, numbers-or-strings). `toYaml` is
  never used: it silently prints nothing for text go-yaml cannot encode.
- Optional values are read with `get`, so templates never touch a missing key.
- manifests.py computes the same objects in Python; the parity tests compare both with real helm.
"""

from __future__ import annotations

import functools
import json

from gop.compiler.language import CONFIG_MOUNT_PATH, DEFAULT_CPU_UTILIZATION, WORKLOAD_PARTS
from gop.compiler.lower.helm.parts import ABSENT_DEFAULTS, scaled_kind

HELPERS = '''\
{{/* Names and labels shared by every gopc chart; helpers are named gop.* and identical in every chart. */}}

{{/* The app's name (the chart name). */}}
{{- define "gop.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Object names: the release name, with the app's name appended unless it already contains it. */}}
{{- define "gop.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* A string cut to a valid label value: at most 63 characters, alphanumeric at both ends. */}}
{{- define "gop.labelValue" -}}
{{- regexReplaceAll "^[^A-Za-z0-9]+|[^A-Za-z0-9]+$" (trunc 63 .) "" }}
{{- end }}

{{/* Chart name and version for the helm.sh/chart label. */}}
{{- define "gop.chart" -}}
{{- include "gop.labelValue" (printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_") }}
{{- end }}

{{/* Labels that select the app's pods. */}}
{{- define "gop.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gop.name" . | quote }}
app.kubernetes.io/instance: {{ .Release.Name | quote }}
{{- end }}

{{/* Labels of the pods: the selector labels and the image tag they run. */}}
{{- define "gop.podLabels" -}}
{{ include "gop.selectorLabels" . }}
app.kubernetes.io/version: {{ include "gop.labelValue" .Values.image.tag | quote }}
{{- end }}

{{/* Labels of every object (the recommended app.kubernetes.io/* labels and helm.sh/chart). */}}
{{- define "gop.labels" -}}
helm.sh/chart: {{ include "gop.chart" . | quote }}
{{ include "gop.podLabels" . }}
app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
{{- end }}

{{/* metadata of a namespaced object; call with (list $ "name-suffix"). */}}
{{- define "gop.metadata" -}}
{{- $root := index . 0 -}}
name: {{ printf "%s%s" (include "gop.fullname" $root) (index . 1) | quote }}
namespace: {{ $root.Release.Namespace | quote }}
labels:
  {{- include "gop.labels" $root | nindent 2 }}
{{- end }}

{{/* The workload kind: `workload`, else a Deployment. */}}
{{- define "gop.workload" -}}
{{- get .Values "workload" | default "Deployment" }}
{{- end }}

{{/* An HTTP probe from a Probe value. */}}
{{- define "gop.probe" -}}
httpGet:
  path: {{ .path | quote }}
  port: {{ .port | quote }}
initialDelaySeconds: {{ .initialDelaySeconds | toJson }}
periodSeconds: {{ .periodSeconds | toJson }}
timeoutSeconds: {{ .timeoutSeconds | toJson }}
failureThreshold: {{ .failureThreshold | toJson }}
{{- end }}
'''

SERVICE_ACCOUNT_HELPER = '''
{{/* The service account the pods run as: serviceAccount.name, else the object name. */}}
{{- define "gop.serviceAccountName" -}}
{{- get (get .Values "serviceAccount" | default dict) "name" | default (include "gop.fullname" .) }}
{{- end }}
'''

INGRESS_HELPER = '''
{{/* The Service port an ingress routes to: ingress.port, else the one named "http", else the first by name
     (gopc check allows the last only when it is the only port). */}}
{{- define "gop.ingressPort" -}}
{{- $port := get .Values.ingress "port" }}
{{- if $port }}{{ $port }}{{ else if hasKey .Values.ports "http" }}http{{ else }}{{ keys .Values.ports | sortAlpha | first }}{{ end }}
{{- end }}
'''

SERVICE_PORTS_HELPER = '''
{{/* The ports of the app's Services (its own and a StatefulSet's headless one), by name. */}}
{{- define "gop.servicePorts" -}}
{{- range $name, $port := .Values.ports }}
- name: {{ $name | quote }}
  port: {{ $port | toJson }}
  targetPort: {{ $name | quote }}
  protocol: TCP
{{- end }}
{{- end }}
'''


_FILE_MOUNTS = (("config", CONFIG_MOUNT_PATH, "-config"), ("values", "/etc/%s-values", "-values"))
# The API group of each workload kind's part.
_KIND_API = {"deployment": "apps/v1", "statefulSet": "apps/v1", "daemonSet": "apps/v1", "job": "batch/v1",
             "cronJob": "batch/v1"}


def _pod(parts: frozenset[str]) -> str:
    """The `gop.pod` helper: the pod template every workload kind shares."""
    files = [(name, path, suffix) for name, path, suffix in _FILE_MOUNTS if name in parts]
    text = '''
{{/* The pod template of the workload: its labels, the checksums of its files, the pod spec. */}}
{{- define "gop.pod" -}}
metadata:
  labels:
    {{- include "gop.podLabels" . | nindent 4 }}
'''
    if files:  # a changed file restarts the pods, which read their files at start
        text += "  annotations:\n"
        for name, _, _ in files:
            text += f'    checksum/{name}: {{{{ .Values.{name} | toJson | sha256sum | quote }}}}\n'
    text += '''\
spec:
  {{- $account := get .Values "serviceAccount" }}
  {{- $security := get .Values "security" | default ''' + _go_dict(ABSENT_DEFAULTS["security"]) + ''' }}
  serviceAccountName: {{ include "gop.serviceAccountName" . | quote }}
  automountServiceAccountToken: {{ if $account }}{{ $account.automountToken | toJson }}{{ else }}false{{ end }}
'''
    if parts & {"job", "cronJob"}:
        text += '''\
  {{- if has (include "gop.workload" .) (list "Job" "CronJob") }}
  restartPolicy: {{ (get .Values "job" | default (dict "restartPolicy" "OnFailure")).restartPolicy | quote }}
  {{- end }}
'''
    text += '''\
  securityContext:
    runAsNonRoot: {{ $security.runAsNonRoot | toJson }}
    {{- range $key := list "runAsUser" "runAsGroup" "fsGroup" }}
    {{- if hasKey $security $key }}
    {{ $key }}: {{ get $security $key | toJson }}
    {{- end }}
    {{- end }}
    seccompProfile:
      type: {{ $security.seccompProfile | quote }}
  {{- with get .Values "imagePullSecrets" }}
  imagePullSecrets:
    {{- range . }}
    - name: {{ . | quote }}
    {{- end }}
  {{- end }}
  {{- if hasKey .Values "terminationGracePeriodSeconds" }}
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds | toJson }}
  {{- end }}
  {{- with get .Values "priorityClassName" }}
  priorityClassName: {{ . | quote }}
  {{- end }}
  {{- range $key := list "nodeSelector" "tolerations" }}
  {{- with get $.Values $key }}
  {{ $key }}: {{ toJson . }}
  {{- end }}
  {{- end }}
  {{- with get .Values "affinity" }}
  {{- $nodes := get . "nodes" | default dict }}
  {{- $required := get $nodes "required" | default list }}
  {{- $preferred := get $nodes "preferred" | default list }}
  {{- $together := get . "podAffinity" | default list }}
  {{- $apart := get . "podAntiAffinity" | default list }}
  {{- if or .zones (ne .spreadPods "off") $required $preferred $together $apart }}
  affinity:
    {{- if or .zones $required $preferred }}
    nodeAffinity:
      {{- if or .zones $required }}
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
          {{- $zones := .zones }}
          {{- range $required | default (list (dict "matchExpressions" (list))) }}
          - matchExpressions:
              {{- with $zones }}
              - key: topology.kubernetes.io/zone
                operator: In
                values: {{ toJson . }}
              {{- end }}
              {{- with .matchExpressions }}
              {{- include "gop.nodeExpressions" . | trim | nindent 14 }}
              {{- end }}
          {{- end }}
      {{- end }}
      {{- with $preferred }}
      preferredDuringSchedulingIgnoredDuringExecution:
        {{- range . }}
        - weight: {{ .weight | toJson }}
          preference:
            matchExpressions:
              {{- include "gop.nodeExpressions" .matchExpressions | trim | nindent 14 }}
        {{- end }}
      {{- end }}
    {{- end }}
    {{- with $together }}
    podAffinity:
      {{- include "gop.podAffinityTerms" (list $ .) | trim | nindent 6 }}
    {{- end }}
    {{- if or (ne .spreadPods "off") $apart }}
    podAntiAffinity:
      {{- $terms := $apart }}
      {{- if ne .spreadPods "off" }}
      {{- $own := dict "topologyKey" "kubernetes.io/hostname" "self" true }}
      {{- if eq .spreadPods "preferred" }}{{ $_ := set $own "weight" 100 }}{{ end }}
      {{- $terms = prepend $apart $own }}
      {{- end }}
      {{- include "gop.podAffinityTerms" (list $ $terms) | trim | nindent 6 }}
    {{- end }}
  {{- end }}
  {{- end }}
  {{- $spread := get .Values "topologySpread" | default ''' + _go_dict(ABSENT_DEFAULTS["topologySpread"]) + ''' }}
'''
    spread_condition = '(or (ne $spread.zones "off") (ne $spread.nodes "off"))'
    if "daemonSet" in parts:  # one pod per node: nothing to spread
        spread_condition = f'(and (ne (include "gop.workload" .) "DaemonSet") {spread_condition})'
    text += f"  {{{{- if {spread_condition} }}}}\n"
    text += '''\
  topologySpreadConstraints:
    {{- range $key := list "zones" "nodes" }}
    {{- $when := get $spread $key }}
    {{- if ne $when "off" }}
    - maxSkew: {{ $spread.maxSkew | toJson }}
      topologyKey: {{ get (dict "zones" "topology.kubernetes.io/zone" "nodes" "kubernetes.io/hostname") $key }}
      whenUnsatisfiable: {{ $when }}
      labelSelector:
        matchLabels:
          {{- include "gop.selectorLabels" $ | nindent 10 }}
    {{- end }}
    {{- end }}
  {{- end }}
  {{- if or (get .Values "sidecars") (get .Values "initContainers") }}
  initContainers:
    {{- range $name, $container := get .Values "sidecars" | default dict }}
    - {{ include "gop.container" (list $name $container $security) | indent 6 | trim }}
      restartPolicy: Always
    {{- end }}
    {{- range $name, $container := get .Values "initContainers" | default dict }}
    - {{ include "gop.container" (list $name $container $security) | indent 6 | trim }}
    {{- end }}
  {{- end }}
  containers:
    - name: {{ .Chart.Name | quote }}
      image: {{ printf "%s:%s" .Values.image.repository .Values.image.tag | quote }}
      imagePullPolicy: {{ .Values.image.pullPolicy | quote }}
      {{- range $key := list "command" "args" }}
      {{- with get $.Values $key }}
      {{ $key }}: {{ toJson . }}
      {{- end }}
      {{- end }}
      {{- with .Values.ports }}
      ports:
        {{- range $name, $port := . }}
        - name: {{ $name | quote }}
          containerPort: {{ $port | toJson }}
          protocol: TCP
        {{- end }}
      {{- end }}
'''
    text += _env("secretEnv" in parts)
    text += '''\
      {{- with get .Values "envFrom" }}
      {{- if or .configMaps .secrets }}
      envFrom:
        {{- range .configMaps }}
        - configMapRef:
            name: {{ . | quote }}
        {{- end }}
        {{- range .secrets }}
        - secretRef:
            name: {{ . | quote }}
        {{- end }}
      {{- end }}
      {{- end }}
      {{- range $field := list "liveness" "readiness" "startup" }}
      {{- with get $.Values $field }}
      {{ $field }}Probe:
        {{- include "gop.probe" . | nindent 8 }}
      {{- end }}
      {{- end }}
      {{- with get .Values "lifecycle" }}
      {{- if or .postStart .preStop (get . "postStartSleep") (get . "preStopSleep") }}
      lifecycle:
        {{- range $hook := list "postStart" "preStop" }}
        {{- with get $.Values.lifecycle $hook }}
        {{ $hook }}:
          exec:
            command: {{ toJson . }}
        {{- else }}
        {{- with get $.Values.lifecycle (printf "%sSleep" $hook) }}
        {{ $hook }}:
          sleep:
            seconds: {{ .seconds | toJson }}
        {{- end }}
        {{- end }}
        {{- end }}
      {{- end }}
      {{- end }}
      {{- with get .Values "resources" }}
      resources: {{ toJson . }}
      {{- end }}
      securityContext:
        {{- include "gop.containerSecurity" $security | nindent 8 }}
'''
    mounts = "".join(f'''\
        - name: {name}
          mountPath: {{{{ printf "{path}" .Chart.Name | quote }}}}
          readOnly: true
''' for name, path, _ in files)
    volumes = "".join(f'''\
    - name: {name}
      configMap:
        name: {{{{ printf "%s{suffix}" (include "gop.fullname" .) | quote }}}}
''' for name, _, suffix in files)
    # the chart's own files are always mounted; without them, the lists may be empty
    text += _listed("      ", "volumeMounts", mounts + MOUNT_ENTRIES, None if files else '(get .Values "mounts")')
    text += _listed("  ", "volumes", volumes + VOLUME_ENTRIES, None if files else '(get .Values "volumes")')
    return text + "{{- end }}\n"


def _go_dict(values: dict) -> str:
    """A Go template expression that makes `values` (flat: strings, booleans, numbers, lists of strings)."""
    def literal(value) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (list, tuple)):
            return "(list" + "".join(" " + literal(item) for item in value) + ")"
        return json.dumps(value)
    return "(dict" + "".join(f' "{key}" {literal(item)}' for key, item in values.items()) + ")"


def _listed(indent: str, key: str, entries: str, values: str | None) -> str:
    """`key:` and its entries; inside an `if` when they are only the /tmp mount and `values`."""
    if values is None:
        return f"{indent}{key}:\n{entries}"
    guard = f"{indent}{{{{- if or $security.tmpVolume {values} }}}}\n"
    return f"{guard}{indent}{key}:\n{entries}{indent}{{{{- end }}}}\n"


MOUNT_ENTRIES = '''\
        {{- if $security.tmpVolume }}
        - name: tmp
          mountPath: /tmp
        {{- end }}
        {{- with get .Values "mounts" }}
        {{- include "gop.mounts" . | trim | nindent 8 }}
        {{- end }}
'''

VOLUME_ENTRIES = '''\
    {{- if $security.tmpVolume }}
    - name: tmp
      emptyDir: {}
    {{- end }}
    {{- range $name, $volume := get .Values "volumes" | default dict }}
    - name: {{ $name | quote }}
      {{- if hasKey $volume "configMap" }}
      configMap:
        name: {{ $volume.configMap | quote }}
      {{- else if hasKey $volume "secret" }}
      secret:
        secretName: {{ $volume.secret | quote }}
      {{- else if hasKey $volume "persistentVolumeClaim" }}
      persistentVolumeClaim:
        claimName: {{ $volume.persistentVolumeClaim | quote }}
      {{- else if hasKey $volume "projected" }}
      projected:
        sources:
          {{- range $volume.projected.configMaps }}
          - configMap:
              name: {{ . | quote }}
          {{- end }}
          {{- range $volume.projected.secrets }}
          - secret:
              name: {{ . | quote }}
          {{- end }}
          {{- with get $volume.projected "serviceAccountToken" }}
          - serviceAccountToken:
              {{- with get . "audience" }}
              audience: {{ . | quote }}
              {{- end }}
              {{- with get . "expirationSeconds" }}
              expirationSeconds: {{ . | toJson }}
              {{- end }}
              path: {{ .path | quote }}
          {{- end }}
      {{- else }}
      {{- $dir := $volume.emptyDir }}
      {{- if or $dir.inMemory (hasKey $dir "sizeLimit") }}
      emptyDir:
        {{- if $dir.inMemory }}
        medium: Memory
        {{- end }}
        {{- if hasKey $dir "sizeLimit" }}
        sizeLimit: {{ $dir.sizeLimit | toJson }}
        {{- end }}
      {{- else }}
      emptyDir: {}
      {{- end }}
      {{- end }}
    {{- end }}
'''


CONTAINER_HELPERS = '''
{{/* An init container or sidecar; call with (list name container security). */}}
{{- define "gop.container" -}}
{{- $container := index . 1 }}
{{- $security := index . 2 -}}
name: {{ index . 0 | quote }}
image: {{ printf "%s:%s" $container.image.repository $container.image.tag | quote }}
imagePullPolicy: {{ $container.image.pullPolicy | quote }}
{{- range $key := list "command" "args" }}
{{- with get $container $key }}
{{ $key }}: {{ toJson . }}
{{- end }}
{{- end }}
{{- with $container.env }}
env:
  {{- include "gop.env" . | trim | nindent 2 }}
{{- end }}
{{- with get $container "resources" }}
resources: {{ toJson . }}
{{- end }}
securityContext:
  {{- include "gop.containerSecurity" $security | nindent 2 }}
{{- if or $security.tmpVolume $container.mounts }}
volumeMounts:
  {{- if $security.tmpVolume }}
  - name: tmp
    mountPath: /tmp
  {{- end }}
  {{- with $container.mounts }}
  {{- include "gop.mounts" . | trim | nindent 2 }}
  {{- end }}
{{- end }}
{{- end }}

{{/* Node selector requirements (`affinity.nodes`): key, operator, values (none for Exists/DoesNotExist). */}}
{{- define "gop.nodeExpressions" -}}
{{- range . }}
- key: {{ .key | quote }}
  operator: {{ .operator | quote }}
  {{- with get . "values" }}
  values: {{ toJson . }}
  {{- end }}
{{- end }}
{{- end }}

{{/* Pod (anti-)affinity terms; call with (list $ terms). A term with `weight` is preferred, one without
     required. A `self` term selects the app's own pods; the others the pods of `apps`, in any namespace. */}}
{{- define "gop.podAffinityTerms" -}}
{{- $root := index . 0 }}
{{- $required := list }}
{{- $preferred := list }}
{{- range index . 1 }}
{{- if hasKey . "weight" }}{{ $preferred = append $preferred . }}{{ else }}{{ $required = append $required . }}{{ end }}
{{- end }}
{{- with $required }}
requiredDuringSchedulingIgnoredDuringExecution:
  {{- range . }}
  - {{- include "gop.podAffinityTerm" (list $root .) | nindent 4 }}
  {{- end }}
{{- end }}
{{- with $preferred }}
preferredDuringSchedulingIgnoredDuringExecution:
  {{- range . }}
  - weight: {{ .weight | toJson }}
    podAffinityTerm:
      {{- include "gop.podAffinityTerm" (list $root .) | nindent 6 }}
  {{- end }}
{{- end }}
{{- end }}

{{/* One pod affinity term; call with (list $ term). */}}
{{- define "gop.podAffinityTerm" -}}
{{- $root := index . 0 }}
{{- $term := index . 1 -}}
topologyKey: {{ $term.topologyKey | quote }}
labelSelector:
  {{- if get $term "self" }}
  matchLabels:
    {{- include "gop.selectorLabels" $root | nindent 4 }}
  {{- else }}
  matchExpressions:
    - key: app.kubernetes.io/name
      operator: In
      values: {{ toJson $term.apps }}
{{- /* an app of the program may run in any namespace */}}
namespaceSelector: {}
  {{- end }}
{{- end }}

{{/* A container's security context from the `security` values. */}}
{{- define "gop.containerSecurity" -}}
allowPrivilegeEscalation: {{ .allowPrivilegeEscalation | toJson }}
readOnlyRootFilesystem: {{ .readOnlyRootFilesystem | toJson }}
{{- if or .dropAllCapabilities .addCapabilities }}
capabilities:
  {{- if .dropAllCapabilities }}
  drop:
    - ALL
  {{- end }}
  {{- with .addCapabilities }}
  add: {{ toJson . }}
  {{- end }}
{{- end }}
{{- end }}

{{/* env entries from a map of plain variables. */}}
{{- define "gop.env" -}}
{{- range $name, $value := . }}
- name: {{ $name | quote }}
  value: {{ $value | quote }}
{{- end }}
{{- end }}

{{/* volumeMounts entries from a `mounts` map (by mount path). */}}
{{- define "gop.mounts" -}}
{{- range $path, $mount := . }}
- name: {{ $mount.volume | quote }}
  mountPath: {{ $path | quote }}
  readOnly: {{ $mount.readOnly | toJson }}
  {{- with get $mount "subPath" }}
  subPath: {{ . | quote }}
  {{- end }}
{{- end }}
{{- end }}
'''

JOB_HELPER = '''
{{/* The spec of a Job, or of each run of a CronJob. */}}
{{- define "gop.jobSpec" -}}
{{- with get .Values "job" }}
backoffLimit: {{ .backoffLimit | toJson }}
{{- range $key := list "completions" "parallelism" "activeDeadlineSeconds" "ttlSecondsAfterFinished" }}
{{- if hasKey $.Values.job $key }}
{{ $key }}: {{ get $.Values.job $key | toJson }}
{{- end }}
{{- end }}
{{- end }}
template:
  {{- include "gop.pod" . | nindent 2 }}
{{- end }}
'''

def _workload(kind: str, parts: frozenset[str]) -> str:
    """The template of one workload kind; guarded by `workload` when the chart has several."""
    several = len([part for part in parts if part in _KIND_API]) > 1
    text = f'{{{{- if eq (include "gop.workload" .) "{kind}" }}}}\n' if several else ""
    if kind == "StatefulSet":
        text += '{{- $settings := get .Values "statefulSet" | default dict }}\n'
    text += f'''\
apiVersion: {_KIND_API[WORKLOAD_PARTS[kind]]}
kind: {kind}
metadata:
  {{{{- include "gop.metadata" (list . "") | nindent 2 }}}}
'''
    if kind == "Job":  # a Job's pod template is immutable: each install and upgrade runs a new one
        text += '''\
  annotations:
    helm.sh/hook: post-install,post-upgrade
    helm.sh/hook-delete-policy: before-hook-creation
'''
    text += "spec:\n"
    if kind in ("Deployment", "StatefulSet"):
        if "autoscaling" in parts:
            text += '''\
  {{- if not (get .Values "autoscaling") }}
  replicas: {{ .Values.replicas | toJson }}
  {{- end }}
'''
        else:
            text += "  replicas: {{ .Values.replicas | toJson }}\n"
    if kind == "StatefulSet":
        text += '''\
  serviceName: {{ get $settings "serviceName" | default (printf "%s-headless" (include "gop.fullname" .)) | quote }}
  {{- with get $settings "podManagementPolicy" }}
  podManagementPolicy: {{ . | quote }}
  {{- end }}
'''
    if kind in ("Deployment", "StatefulSet", "DaemonSet"):
        text += '''\
  selector:
    matchLabels:
      {{- include "gop.selectorLabels" . | nindent 6 }}
  template:
    {{- include "gop.pod" . | nindent 4 }}
'''
    if kind == "StatefulSet":
        text += STATEFUL_SET_TAIL
    if kind == "Job":
        text += '  {{- include "gop.jobSpec" . | nindent 2 }}\n'
    if kind == "CronJob":
        text += CRON_JOB_TAIL
    if several:
        text += "{{- end }}\n"
    return text


STATEFUL_SET_TAIL = '''\
  {{- with get $settings "volumeClaimTemplates" }}
  volumeClaimTemplates:
    {{- range $name, $claim := . }}
    - metadata:
        name: {{ $name | quote }}
      spec:
        accessModes: {{ toJson $claim.accessModes }}
        {{- with get $claim "storageClassName" }}
        storageClassName: {{ . | quote }}
        {{- end }}
        resources:
          requests:
            storage: {{ $claim.size | toJson }}
    {{- end }}
  {{- end }}
{{- if not (get $settings "serviceName") }}
---
apiVersion: v1
kind: Service
metadata:
  {{- include "gop.metadata" (list . "-headless") | nindent 2 }}
spec:
  clusterIP: None
  publishNotReadyAddresses: true
  selector:
    {{- include "gop.selectorLabels" . | nindent 4 }}
  {{- if .Values.ports }}
  ports:
    {{- include "gop.servicePorts" . | nindent 4 }}
  {{- end }}
{{- end }}
'''

CRON_JOB_TAIL = '''\
  {{- with .Values.cronJob }}
  schedule: {{ .schedule | quote }}
  {{- with get . "timeZone" }}
  timeZone: {{ . | quote }}
  {{- end }}
  concurrencyPolicy: {{ .concurrencyPolicy | quote }}
  successfulJobsHistoryLimit: {{ .successfulJobsHistoryLimit | toJson }}
  failedJobsHistoryLimit: {{ .failedJobsHistoryLimit | toJson }}
  {{- with get . "startingDeadlineSeconds" }}
  startingDeadlineSeconds: {{ . | toJson }}
  {{- end }}
  suspend: {{ .suspend | toJson }}
  {{- end }}
  jobTemplate:
    spec:
      {{- include "gop.jobSpec" . | nindent 6 }}
'''

DISRUPTION_BUDGET = '''\
{{- $budget := get .Values "disruptionBudget" | default ''' + _go_dict(ABSENT_DEFAULTS["disruptionBudget"]) + ''' }}
{{- $replicas := .Values.replicas }}
{{- with get .Values "autoscaling" }}{{ $replicas = .min }}{{ end }}
{{- if and $budget.enabled (has (include "gop.workload" .) (list "Deployment" "StatefulSet")) (gt (int $replicas) 1) }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  {{- include "gop.metadata" (list . "") | nindent 2 }}
spec:
  {{- if hasKey $budget "minAvailable" }}
  minAvailable: {{ $budget.minAvailable | toJson }}
  {{- else }}
  maxUnavailable: {{ get $budget "maxUnavailable" | default 1 | toJson }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "gop.selectorLabels" . | nindent 6 }}
{{- end }}
'''


def _env(secret_env: bool) -> str:
    if not secret_env:
        return '''\
      {{- with .Values.env }}
      env:
        {{- include "gop.env" . | trim | nindent 8 }}
      {{- end }}
'''
    return '''\
      {{- if or .Values.env .Values.secretEnv }}
      env:
        {{- with .Values.env }}
        {{- include "gop.env" . | trim | nindent 8 }}
        {{- end }}
        {{- range $name, $ref := .Values.secretEnv }}
        - name: {{ $name | quote }}
          valueFrom:
            secretKeyRef:
              name: {{ $ref.secret | quote }}
              key: {{ $ref.key | quote }}
        {{- end }}
      {{- end }}
'''


SERVICE = '''\
{{- if .Values.ports }}
apiVersion: v1
kind: Service
metadata:
  {{- include "gop.metadata" (list . "") | nindent 2 }}
spec:
  type: ClusterIP
  selector:
    {{- include "gop.selectorLabels" . | nindent 4 }}
  ports:
    {{- include "gop.servicePorts" . | nindent 4 }}
{{- end }}
'''

INGRESS = '''\
{{- $ingress := get .Values "ingress" }}
{{- if and $ingress .Values.ports }}
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  {{- include "gop.metadata" (list . "") | nindent 2 }}
  {{- with $ingress.annotations }}
  annotations:
    {{- range $key, $value := . }}
    {{ $key | quote }}: {{ $value | quote }}
    {{- end }}
  {{- end }}
spec:
  {{- with get $ingress "className" }}
  ingressClassName: {{ . | quote }}
  {{- end }}
  {{- if $ingress.tls }}
  tls:
    - hosts:
        - {{ $ingress.host | quote }}
      secretName: {{ get $ingress "tlsSecret" | default (printf "%s-tls" (include "gop.fullname" .)) | quote }}
  {{- end }}
  rules:
    - host: {{ $ingress.host | quote }}
      http:
        paths:
          - path: {{ $ingress.path | quote }}
            pathType: Prefix
            backend:
              service:
                name: {{ include "gop.fullname" . | quote }}
                port:
                  name: {{ include "gop.ingressPort" . | quote }}
{{- end }}
'''

# The HPA's target: the chart's only kind that scales, else the instance's `workload`.
HPA = '''\
{{- with get .Values "autoscaling" }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  {{- include "gop.metadata" (list $ "") | nindent 2 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: %s
    name: {{ include "gop.fullname" $ | quote }}
  minReplicas: {{ .min | toJson }}
  maxReplicas: {{ .max | toJson }}
  metrics:
'''
# CPU utilisation: `autoscaling.cpu`, or its default when the chart has no `scalingMetrics`.
HPA_CPU = '''\
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ get . "cpu" | default %d | toJson }}
'''
# With `scalingMetrics`, CPU is a metric only when `autoscaling.cpu` asks for it or no metric is set.
HPA_CPU_UNLESS_METRICS = '''\
    {{- if or (hasKey . "cpu") (not (get $.Values "scalingMetrics")) }}
%s    {{- end }}
'''

# `scalingMetrics`: the HPA's metrics beside CPU (memory, Pods, Object, External), appended to HPA's list.
SCALING_METRICS = '''\
    {{- range (get $.Values "scalingMetrics" | default (list)) }}
    - type: {{ .type | quote }}
      {{- if eq .type "Resource" }}
      resource:
        name: {{ .name | quote }}
      {{- else if eq .type "Object" }}
      object:
        describedObject:
          apiVersion: {{ .object.apiVersion | quote }}
          kind: {{ .object.kind | quote }}
          name: {{ .object.name | quote }}
      {{- else }}
      {{ lower .type }}:
      {{- end }}
      {{- if ne .type "Resource" }}
        metric:
          name: {{ .name | quote }}
          {{- with .selector }}
          selector:
            matchLabels:
              {{- include "gop.stringMap" . | nindent 14 }}
          {{- end }}
      {{- end }}
        target:
          {{- if hasKey . "averageUtilization" }}
          type: Utilization
          averageUtilization: {{ .averageUtilization | toJson }}
          {{- else if hasKey . "averageValue" }}
          type: AverageValue
          averageValue: {{ .averageValue | toJson }}
          {{- else }}
          type: Value
          value: {{ .value | toJson }}
          {{- end }}
    {{- end }}
'''

SERVICE_ACCOUNT = '''\
{{- $account := get .Values "serviceAccount" | default (dict "create" true "automountToken" false) }}
{{- if $account.create }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "gop.serviceAccountName" . | quote }}
  namespace: {{ .Release.Namespace | quote }}
  labels:
    {{- include "gop.labels" . | nindent 4 }}
  {{- with get $account "annotations" }}
  annotations:
    {{- range $key, $value := . }}
    {{ $key | quote }}: {{ $value | quote }}
    {{- end }}
  {{- end }}
automountServiceAccountToken: {{ $account.automountToken | toJson }}
{{- end }}
'''

CONFIG_MAP = '''\
apiVersion: v1
kind: ConfigMap
metadata:
  {{- include "gop.metadata" (list . "-config") | nindent 2 }}
{{- with .Values.config }}
data:
  {{- range $file, $text := . }}
  {{ $file | quote }}: {{ $text | quote }}
  {{- end }}
{{- end }}
'''

VALUES_MAP = '''\
apiVersion: v1
kind: ConfigMap
metadata:
  {{- include "gop.metadata" (list . "-values") | nindent 2 }}
data:
  values.json: {{ .Values.values | toPrettyJson | quote }}
'''


ROUTES_HELPER = '''
{{/* The port a path of `routes` goes to: its port, else the one named "http", else the first by name
     (gopc check allows the last only when it is the only port); call with (list $ path). */}}
{{- define "gop.routePort" -}}
{{- $root := index . 0 }}
{{- $port := get (index . 1) "port" }}
{{- if $port }}{{ $port }}{{ else if hasKey $root.Values.ports "http" }}http{{ else }}{{ keys $root.Values.ports | sortAlpha | first }}{{ end }}
{{- end }}

{{/* metadata of the routes' object: gop.metadata and the routes' annotations. */}}
{{- define "gop.routesMetadata" -}}
{{ include "gop.metadata" (list . "") }}
{{- with .Values.routes.annotations }}
annotations:
  {{- include "gop.stringMap" . | nindent 2 }}
{{- end }}
{{- end }}
'''

# Included by the parts added for issue 13 (the older templates print their maps themselves, unchanged).
STRING_MAP_HELPER = '''
{{/* A map of strings as YAML entries, keys and values quoted. */}}
{{- define "gop.stringMap" -}}
{{- range $key, $value := . }}
{{ $key | quote }}: {{ $value | quote }}
{{- end }}
{{- end }}
'''

# `routes`: an Ingress (every host serves every path) or a Gateway API HTTPRoute.
ROUTES = '''\
{{- $routes := get .Values "routes" }}
{{- if and $routes .Values.ports }}
{{- $root := . }}
{{- if eq $routes.api "Ingress" }}
apiVersion: networking.k8s.io/v1
kind: Ingress
{{- else }}
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
{{- end }}
metadata:
  {{- include "gop.routesMetadata" . | nindent 2 }}
spec:
{{- if eq $routes.api "Ingress" }}
  {{- with get $routes "className" }}
  ingressClassName: {{ . | quote }}
  {{- end }}
  {{- if $routes.tls }}
  tls:
    - hosts:
        {{- range $routes.hosts }}
        - {{ . | quote }}
        {{- end }}
      secretName: {{ get $routes "tlsSecret" | default (printf "%s-tls" (include "gop.fullname" .)) | quote }}
  {{- end }}
  rules:
    {{- range $host := $routes.hosts }}
    - host: {{ $host | quote }}
      http:
        paths:
          {{- range $routes.paths }}
          - path: {{ .path | quote }}
            pathType: {{ .match | quote }}
            backend:
              service:
                name: {{ include "gop.fullname" $root | quote }}
                port:
                  name: {{ include "gop.routePort" (list $root .) | quote }}
          {{- end }}
    {{- end }}
{{- else }}
  parentRefs:
    - name: {{ $routes.gateway.name | quote }}
      {{- with get $routes.gateway "namespace" }}
      namespace: {{ . | quote }}
      {{- end }}
      {{- with get $routes.gateway "sectionName" }}
      sectionName: {{ . | quote }}
      {{- end }}
  hostnames:
    {{- range $routes.hosts }}
    - {{ . | quote }}
    {{- end }}
  rules:
    {{- range $routes.paths }}
    - matches:
        - path:
            type: {{ ternary "Exact" "PathPrefix" (eq .match "Exact") | quote }}
            value: {{ .path | quote }}
      backendRefs:
        - name: {{ include "gop.fullname" $root | quote }}
          port: {{ index $root.Values.ports (include "gop.routePort" (list $root .)) | toJson }}
    {{- end }}
{{- end }}
{{- end }}
'''


# `helm test` (chart.test): GET the app's readiness (else liveness, else `/`) path through its Service,
# from a pod that is not selected by the Service (no selector labels) and runs restricted. Its component and
# part-of labels are those the derived NetworkPolicies select it by (flux/network.py test_pod_labels).
TEST_CONNECTION = '''\
{{- if .Values.ports }}
{{- $probe := get .Values "readiness" | default (get .Values "liveness") | default (dict) }}
{{- $port := get $probe "port" | default (ternary "http" (keys .Values.ports | sortAlpha | first) (hasKey .Values.ports "http")) }}
apiVersion: v1
kind: Pod
metadata:
  name: {{ printf "%s-test-connection" (include "gop.fullname" .) | quote }}
  namespace: {{ .Release.Namespace | quote }}
  labels:
    helm.sh/chart: {{ include "gop.chart" . | quote }}
    app.kubernetes.io/component: "test"
    app.kubernetes.io/part-of: {{ include "gop.name" . | quote }}
    app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
  annotations:
    helm.sh/hook: "test"
    helm.sh/hook-delete-policy: "before-hook-creation,hook-succeeded"
spec:
  restartPolicy: Never
  automountServiceAccountToken: false
  securityContext:
    runAsNonRoot: true
    runAsUser: 65534
    runAsGroup: 65534
    seccompProfile:
      type: RuntimeDefault
  containers:
    - name: "wget"
      image: "busybox:1.37.0"
      command: ["wget"]
      args:
        - "-q"
        - "-O"
        - "/dev/null"
        - "-T"
        - "10"
        - {{ printf "http://%s:%d%s" (include "gop.fullname" .) (index .Values.ports $port | int) (get $probe "path" | default "/") | quote }}
      securityContext:
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        capabilities:
          drop: ["ALL"]
      resources:
        requests:
          cpu: "10m"
          memory: "16Mi"
        limits:
          cpu: "100m"
          memory: "32Mi"
{{- end }}
'''


def _notes(parts: frozenset[str]) -> str:
    text = ('{{ .Chart.Name }} runs {{ .Values.image.repository }}:{{ .Values.image.tag }} as release '
            '{{ .Release.Name }} in namespace {{ .Release.Namespace }}.\n')
    if "service" in parts:
        text += ('{{- if .Values.ports }}\n'
                 'Inside the cluster it answers at {{ include "gop.fullname" . }}.{{ .Release.Namespace }}.svc'
                 ' on the ports {{ keys .Values.ports | sortAlpha | join ", " }}.\n'
                 '{{- end }}\n')
    if "ingress" in parts:
        text += '''\
{{- with get .Values "ingress" }}
From outside: http{{ if .tls }}s{{ end }}://{{ .host }}{{ .path }}
{{- end }}
'''
    return text


def templates(parts: frozenset[str]) -> dict[str, str]:
    """The files under templates/ for a chart with these parts."""
    return dict(_templates(parts))


@functools.lru_cache(maxsize=256)
def _templates(parts: frozenset[str]) -> dict[str, str]:
    """`templates`, made once per set of parts (a pure function of them; charts share the texts)."""
    helpers = HELPERS
    if "serviceAccount" in parts:
        helpers += SERVICE_ACCOUNT_HELPER
    if "ingress" in parts:
        helpers += INGRESS_HELPER
    if {"service", WORKLOAD_PARTS["StatefulSet"]} & parts:
        helpers += SERVICE_PORTS_HELPER
    helpers += _pod(parts) + CONTAINER_HELPERS
    if parts & {"job", "cronJob"}:
        helpers += JOB_HELPER
    if "routes" in parts:
        helpers += ROUTES_HELPER
    if {"routes", "scalingMetrics"} & parts:
        helpers += STRING_MAP_HELPER
    files = {"templates/_helpers.tpl": helpers, "templates/NOTES.txt": _notes(parts)}
    for kind, part in WORKLOAD_PARTS.items():
        if part in parts:
            files[f"templates/{kind.lower()}.yaml"] = _workload(kind, parts)
    if "disruptionBudget" in parts:
        files["templates/pdb.yaml"] = DISRUPTION_BUDGET
    if "service" in parts:
        files["templates/service.yaml"] = SERVICE
    if "ingress" in parts:
        files["templates/ingress.yaml"] = INGRESS
    if "autoscaling" in parts:
        target = scaled_kind(parts) or '{{ include "gop.workload" $ }}'
        cpu = HPA_CPU % DEFAULT_CPU_UTILIZATION
        metrics = HPA_CPU_UNLESS_METRICS % cpu + SCALING_METRICS if "scalingMetrics" in parts else cpu
        files["templates/hpa.yaml"] = HPA % target + metrics + "{{- end }}\n"
    if "test" in parts:
        files["templates/tests/test-connection.yaml"] = TEST_CONNECTION
    if "routes" in parts:
        files["templates/routes.yaml"] = ROUTES
    if "serviceAccount" in parts:
        files["templates/serviceaccount.yaml"] = SERVICE_ACCOUNT
    config_maps = [text for part, text in (("config", CONFIG_MAP), ("values", VALUES_MAP)) if part in parts]
    if config_maps:
        files["templates/configmap.yaml"] = "---\n".join(config_maps)
    return dict(sorted(files.items()))
