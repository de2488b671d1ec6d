"""Kafka: the brokers and how every client reaches them."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from chatwatch.settings.base import SettingsPart, _secret


class KafkaSettings(SettingsPart):
    """Kafka: the brokers and how every client (receiver, worker, CLI) reaches them (`streams/kafka_security.py`)."""

    FILES = ("kafka_sasl_password_file", "kafka_ssl_cafile", "kafka_ssl_certfile", "kafka_ssl_keyfile",
             "kafka_ssl_key_password_file")

    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers, host:port[,host:port].")
    kafka_session_timeout_s: float = Field(10.0, ge=6, description="A worker that stops heartbeating (killed, "
                                           "frozen) loses its partitions to the others after this long.")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="How every client (receiver, worker, CLI) reaches the brokers: `PLAINTEXT`, `SSL`, "
                     "`SASL_PLAINTEXT` or `SASL_SSL`; managed Kafka is usually `SASL_SSL`.")
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "PLAIN", description="SASL mechanism: `PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`.")
    kafka_sasl_username: str | None = Field(None, description="SASL user name; the `SASL_` protocols need it.")
    kafka_sasl_password: SecretStr | None = Field(None, description="SASL password; the `SASL_` protocols need it.")
    kafka_sasl_password_file: Path | None = Field(None, description="File holding the SASL password (wins).")
    kafka_ssl_cafile: Path | None = Field(None, description="CA bundle (PEM) the broker certificates are checked "
                                                "against; unset: the system CAs.")
    kafka_ssl_certfile: Path | None = Field(None, description="Client certificate (PEM), for mutual TLS.")
    kafka_ssl_keyfile: Path | None = Field(None, description="Client private key (PEM), for mutual TLS.")
    kafka_ssl_key_password_file: Path | None = Field(None, description="File holding the client key's password.")
    kafka_ssl_check_hostname: bool = Field(True, description="Check the broker certificate's host name.")

    @model_validator(mode="after")
    def _kafka_security_complete(self) -> KafkaSettings:
        if self.kafka_security_protocol.startswith("SASL_") and not (
                self.kafka_sasl_username and (self.kafka_sasl_password or self.kafka_sasl_password_file)):
            raise ValueError(f"kafka_security_protocol={self.kafka_security_protocol} needs CHATWATCH_KAFKA_SASL_USERNAME "
                             "and CHATWATCH_KAFKA_SASL_PASSWORD (or _PASSWORD_FILE)")
        if (self.kafka_ssl_certfile is None) != (self.kafka_ssl_keyfile is None):
            raise ValueError("mutual TLS needs both CHATWATCH_KAFKA_SSL_CERTFILE and CHATWATCH_KAFKA_SSL_KEYFILE")
        return self

    @cached_property
    def kafka_sasl_password_text(self) -> str | None:
        secret = _secret(self.kafka_sasl_password, self.kafka_sasl_password_file)
        return secret.decode() if secret is not None else None
