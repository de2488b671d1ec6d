{{- define "chatwatch.labels" -}}
app.kubernetes.io/name: chatwatch
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{- define "chatwatch.env" -}}
- name: CHATWATCH_KAFKA_BOOTSTRAP
  value: {{ .Values.kafka.bootstrap | quote }}
- name: CHATWATCH_TOPIC_PREFIX
  value: {{ .Values.kafka.topicPrefix | quote }}
- name: CHATWATCH_TOPIC_PARTITIONS
  value: {{ .Values.kafka.topicPartitions | quote }}
- name: CHATWATCH_TOPIC_REPLICATION
  value: {{ .Values.kafka.topicReplication | quote }}
{{- end -}}
