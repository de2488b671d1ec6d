{{- define "chatwatch.labels" -}}
app.kubernetes.io/name: chatwatch
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "chatwatch.image" -}}
image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
imagePullPolicy: {{ .Values.image.pullPolicy }}
securityContext: {{- toYaml .Values.securityContext | nindent 2 }}
{{- end -}}

{{- define "chatwatch.podSpec" -}}
securityContext: {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets: {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Kafka, topics, and secrets read from the mounted Secret's files. */}}
{{- define "chatwatch.env" -}}
- name: CHATWATCH_KAFKA_BOOTSTRAP
  value: {{ .Values.kafka.bootstrap | quote }}
- name: CHATWATCH_TOPIC_PREFIX
  value: {{ .Values.kafka.topicPrefix | quote }}
- name: CHATWATCH_TOPIC_PARTITIONS
  value: {{ .Values.kafka.topicPartitions | quote }}
- name: CHATWATCH_TOPIC_REPLICATION
  value: {{ .Values.kafka.topicReplication | quote }}
- name: CHATWATCH_KAFKA_SECURITY_PROTOCOL
  value: {{ .Values.kafka.securityProtocol | quote }}
{{- if hasPrefix "SASL_" .Values.kafka.securityProtocol }}
- name: CHATWATCH_KAFKA_SASL_MECHANISM
  value: {{ .Values.kafka.saslMechanism | quote }}
- name: CHATWATCH_KAFKA_SASL_USERNAME
  value: {{ .Values.kafka.saslUsername | quote }}
- name: CHATWATCH_KAFKA_SASL_PASSWORD_FILE
  value: /var/run/secrets/chatwatch/{{ .Values.kafka.saslPasswordKey }}
{{- end }}
{{- if .Values.kafka.tlsSecret }}
- name: CHATWATCH_KAFKA_SSL_CAFILE
  value: /var/run/secrets/kafka-tls/ca.crt
{{- end }}
{{- range $name, $value := .Values.settings }}
- name: CHATWATCH_{{ $name | upper }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}

{{/* Secret files mounted in every pod; the Kafka TLS Secret when set; a writable /tmp. */}}
{{- define "chatwatch.secretMounts" -}}
- {name: secrets, mountPath: /var/run/secrets/chatwatch, readOnly: true}
- {name: tmp, mountPath: /tmp}
{{- if .Values.kafka.tlsSecret }}
- {name: kafka-tls, mountPath: /var/run/secrets/kafka-tls, readOnly: true}
{{- end }}
{{- end -}}

{{- define "chatwatch.secretVolumes" -}}
- name: secrets
  secret: {secretName: {{ .Values.secrets.name }}}
- name: tmp
  emptyDir: {}
{{- if .Values.kafka.tlsSecret }}
- name: kafka-tls
  secret: {secretName: {{ .Values.kafka.tlsSecret }}}
{{- end }}
{{- end -}}

{{- define "chatwatch.optionalSecretEnv" -}}
{{- range .Values.secrets.optionalKeys }}
- name: CHATWATCH_{{ . | upper | replace "-" "_" }}_FILE
  value: /var/run/secrets/chatwatch/{{ . }}
{{- end }}
{{- end -}}

{{/* The console's own settings, in the archive pod (embedded ClickHouse) or its Deployment. */}}
{{- define "chatwatch.consoleEnv" -}}
- {name: CHATWATCH_CONSOLE_HOST, value: "0.0.0.0"}
- {name: CHATWATCH_CONSOLE_PORT, value: {{ .Values.console.port | quote }}}
- {name: CHATWATCH_CONSOLE_TRUSTED_PROXIES, value: {{ .Values.console.trustedProxies | quote }}}
{{- if .Values.console.url }}
- {name: CHATWATCH_CONSOLE_URL, value: {{ .Values.console.url | quote }}}
{{- end }}
{{- end -}}
