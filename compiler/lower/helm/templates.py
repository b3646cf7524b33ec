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
{{- get (get .Values "serviceAccount") "name" | default (include "gop.fullname" .) }}
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


def _deployment(parts: frozenset[str]) -> str:
    mounts = [("config", "/etc/%s", "-config"), ("values", "/etc/%s-values", "-values")]
    mounts = [mount for mount in mounts if mount[0] in parts]
    text = '''\
apiVersion: apps/v1
kind: Deployment
metadata:
  {{- include "gop.metadata" (list . "") | nindent 2 }}
spec:
'''
    if "autoscaling" in parts:
        text += '''\
  {{- if not (get .Values "autoscaling") }}
  replicas: {{ .Values.replicas | toJson }}
  {{- end }}
'''
    else:
        text += "  replicas: {{ .Values.replicas | toJson }}\n"
    text += '''\
  selector:
    matchLabels:
      {{- include "gop.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "gop.podLabels" . | nindent 8 }}
'''
    if mounts:  # a changed file restarts the pods, which read their files at start
        text += "      annotations:\n"
        for name, _, _ in mounts:
            text += f'        checksum/{name}: {{{{ .Values.{name} | toJson | sha256sum | quote }}}}\n'
    text += "    spec:\n"
    if "serviceAccount" in parts:
        text += '''\
      {{- if get .Values "serviceAccount" }}
      serviceAccountName: {{ include "gop.serviceAccountName" . | quote }}
      {{- end }}
'''
    text += '''\
      containers:
        - name: {{ .Chart.Name | quote }}
          image: {{ printf "%s:%s" .Values.image.repository .Values.image.tag | quote }}
          imagePullPolicy: {{ .Values.image.pullPolicy | quote }}
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
          {{- with get .Values "liveness" }}
          livenessProbe:
            {{- include "gop.probe" . | nindent 12 }}
          {{- end }}
          {{- with get .Values "readiness" }}
          readinessProbe:
            {{- include "gop.probe" . | nindent 12 }}
          {{- end }}
          {{- with get .Values "resources" }}
          resources: {{ toJson . }}
          {{- end }}
'''
    if mounts:
        text += "          volumeMounts:\n"
        for name, path, _ in mounts:
            text += f'''\
            - name: {name}
              mountPath: {{{{ printf "{path}" .Chart.Name | quote }}}}
              readOnly: true
'''
        text += "      volumes:\n"
        for name, _, suffix in mounts:
            text += f'''\
        - name: {name}
          configMap:
            name: {{{{ printf "%s{suffix}" (include "gop.fullname" .) | quote }}}}
'''
    return text


def _env(secret_env: bool) -> str:
    if not secret_env:
        return '''\
          {{- with .Values.env }}
          env:
            {{- range $name, $value := . }}
            - name: {{ $name | quote }}
              value: {{ $value | quote }}
            {{- end }}
          {{- end }}
'''
    return '''\
          {{- if or .Values.env .Values.secretEnv }}
          env:
            {{- range $name, $value := .Values.env }}
            - name: {{ $name | quote }}
              value: {{ $value | quote }}
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
    {{- range $name, $port := .Values.ports }}
    - name: {{ $name | quote }}
      port: {{ $port | toJson }}
      targetPort: {{ $name | quote }}
      protocol: TCP
    {{- end }}
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

HPA_WITH_CPU = '''\
{{- with get .Values "autoscaling" }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  {{- include "gop.metadata" (list $ "") | nindent 2 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "gop.fullname" $ | quote }}
  minReplicas: {{ .min | toJson }}
  maxReplicas: {{ .max | toJson }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ .cpu | toJson }}
'''

# `scalingMetrics`: the HPA's metrics beyond CPU (memory, Pods, Object, External), appended to HPA's list.
SCALING_METRICS = '''\
    {{- range (get $.Values "scalingMetrics") }}
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
          {{- with get . "selector" }}
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
{{- $account := get .Values "serviceAccount" }}
{{- if $account }}
{{- if $account.create }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "gop.serviceAccountName" . | quote }}
  namespace: {{ .Release.Namespace | quote }}
  labels:
    {{- include "gop.labels" . | nindent 4 }}
  {{- with $account.annotations }}
  annotations:
    {{- range $key, $value := . }}
    {{ $key | quote }}: {{ $value | quote }}
    {{- end }}
  {{- end }}
{{- end }}
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
            pathType: {{ get . "match" | default "Prefix" | quote }}
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
            type: {{ ternary "Exact" "PathPrefix" (eq (get . "match") "Exact") | quote }}
            value: {{ .path | quote }}
      backendRefs:
        - name: {{ include "gop.fullname" $root | quote }}
          port: {{ index $root.Values.ports (include "gop.routePort" (list $root .)) | toJson }}
    {{- end }}
{{- end }}
{{- end }}
'''


# `helm test` (chart.test): GET the app's readiness (else liveness, else `/`) path through its Service,
# from a pod that is not selected by the Service (no selector labels) and runs restricted.
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
    helpers = HELPERS
    if "serviceAccount" in parts:
        helpers += SERVICE_ACCOUNT_HELPER
    if "ingress" in parts:
        helpers += INGRESS_HELPER
    if "routes" in parts:
        helpers += ROUTES_HELPER
    if {"routes", "scalingMetrics"} & parts:
        helpers += STRING_MAP_HELPER
    files = {"templates/_helpers.tpl": helpers, "templates/deployment.yaml": _deployment(parts),
             "templates/NOTES.txt": _notes(parts)}
    if "service" in parts:
        files["templates/service.yaml"] = SERVICE
    if "ingress" in parts:
        files["templates/ingress.yaml"] = INGRESS
    if "autoscaling" in parts:
        files["templates/hpa.yaml"] = HPA_WITH_CPU + (SCALING_METRICS if "scalingMetrics" in parts else "") + "{{- end }}\n"
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
