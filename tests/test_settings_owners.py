"""Settings by owner: each component's settings in its own module, composed into one flat `Settings`.

Every owner class stands alone (its fields, its files and secrets, its own validators); the root is
exactly their union, no setting is defined twice, the environment variable names stay
`CHATWATCH_<FIELD>`, and the README's settings tables are rendered from the same fields.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

import chatwatch.settings
from chatwatch.settings import FILE_SECRETS, OWNERS, Settings, SettingsPart
from chatwatch.settings.alerts import AlertSettings
from chatwatch.settings.kafka import KafkaSettings
from chatwatch.settings.reference import settings_reference

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in list(os.environ):
        if name.upper().startswith("CHATWATCH_"):
            monkeypatch.delenv(name)


def defined_owners() -> set[type[SettingsPart]]:
    """Every SettingsPart subclass defined in a module of chatwatch/settings/."""
    found = set()
    for info in pkgutil.iter_modules(chatwatch.settings.__path__):
        module = importlib.import_module(f"chatwatch.settings.{info.name}")
        found |= {v for v in vars(module).values() if isinstance(v, type) and issubclass(v, SettingsPart)
                  and v is not SettingsPart and v.__module__ == module.__name__}
    return found


def test_each_owner_imports_and_loads_alone():
    code = "; ".join(f"from {o.__module__} import {o.__name__}; {o.__name__}()" for o in OWNERS)
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, capture_output=True,
                   env={k: v for k, v in os.environ.items() if not k.upper().startswith("CHATWATCH_")})
    for owner in OWNERS:
        assert set(owner().model_dump()) == set(owner.model_fields)


def test_the_root_is_exactly_the_union_of_the_owners():
    assert defined_owners() == set(OWNERS)  # no owner left out of the root
    names = [name for owner in OWNERS for name in owner.model_fields]
    assert len(names) == len(set(names)), "a setting defined by two owners"
    assert set(names) == set(Settings.model_fields)
    for owner in OWNERS:
        for name, field in owner.model_fields.items():
            mine = Settings.model_fields[name]
            assert (field.annotation, field.default, field.default_factory, field.description, field.metadata) == (
                mine.annotation, mine.default, mine.default_factory, mine.description, mine.metadata), name


def test_owners_name_their_files_and_secrets_among_their_own_fields():
    for owner in OWNERS:
        for name in vars(owner).get("FILES", ()):
            assert name in owner.model_fields, (owner.__name__, name)
        for name in vars(owner).get("FILE_SECRETS", ()):
            assert {name, f"{name}_file"} <= set(owner.model_fields), (owner.__name__, name)
        assert ": " in (owner.__doc__ or "").splitlines()[0], f"{owner.__name__}: docstring 'Title: summary'"
    assert {"redaction_key", "clickhouse_password", "notify_ack_key", "console_secret_key"} <= set(FILE_SECRETS)
    assert set(FILE_SECRETS) == {name for owner in OWNERS for name in vars(owner).get("FILE_SECRETS", ())}


def test_variables_keep_their_names_and_unknown_ones_are_refused():
    environ = {f"CHATWATCH_{name.upper()}": "x" for name in Settings.model_fields}
    assert Settings.unknown_environment(environ) == []
    assert Settings.unknown_environment({**environ, "CHATWATCH_KAFKA_BOOTSRAP": "x", "OTHER": "y"}) == [
        "CHATWATCH_KAFKA_BOOTSRAP"]
    assert Settings.unknown_environment({"chatwatch_console_prot": "1"}) == ["chatwatch_console_prot"]
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Settings(kafka_bootsrap="x")


def test_the_owners_validators_run_in_the_root_and_alone(tmp_path: Path):
    key = tmp_path / "key"
    key.write_text("k3y\n")
    for cls in (Settings, KafkaSettings):
        with pytest.raises(ValidationError, match="SASL_SSL needs CHATWATCH_KAFKA_SASL_USERNAME"):
            cls(kafka_security_protocol="SASL_SSL")
        with pytest.raises(ValidationError, match="mutual TLS needs both"):
            cls(kafka_ssl_certfile=key)
        with pytest.raises(ValidationError, match="kafka_ssl_cafile: no such file"):
            cls(kafka_ssl_cafile=tmp_path / "absent")
        assert cls(kafka_security_protocol="SASL_SSL", kafka_sasl_username="u",
                   kafka_sasl_password_file=key).kafka_sasl_password_text == "k3y"
    for cls in (Settings, AlertSettings):
        with pytest.raises(ValidationError, match="alert_snippet=hash needs CHATWATCH_REDACTION_KEY"):
            cls(alert_snippet="hash")
        with pytest.raises(ValidationError, match="redaction_key_file: no such file"):
            cls(redaction_key_file=tmp_path / "absent")
        assert cls(alert_snippet="hash", redaction_key_file=key).redaction_key.get_secret_value() == "k3y"
    read = [s for s in FILE_SECRETS if s != "redaction_key"]  # (read above, with alert_snippet=hash)
    settings = Settings(**{f"{s}_file": key for s in read}, app_secret_file=key, app_id=None, topic_prefix="p",
                        webhook_max_body_bytes=4096)
    assert [getattr(settings, s).get_secret_value() for s in read] == ["k3y"] * len(read)
    assert (settings.app_secret_bytes, settings.base_group_id, settings.raw_record_max_bytes) == (
        b"k3y", "p-worker", 4096 + 64 * 1024)
    with pytest.raises(ValidationError, match="app_secret_file: no such file"):
        Settings(app_secret_file=tmp_path / "absent")


def test_the_reference_shows_every_variable_once_and_no_secret():
    text = settings_reference()
    variables = [v.strip("` ") for line in text.splitlines() if line.startswith("| `")
                 for v in line.split("|")[1].split(" or ")]
    assert sorted(variables) == sorted(name.upper() for name in Settings.model_fields)
    secret_rows = [line for line in text.splitlines() if "_FILE` |" in line and " or `" in line]
    paired = [n for n in Settings.model_fields if f"{n}_file" in Settings.model_fields]  # a secret or its file
    assert len(secret_rows) == len(paired) >= 7 and all("| — |" in line for line in secret_rows)
    assert text.count("| variable | default | meaning |") == len(OWNERS)
    assert "| `CONSOLE_SESSION_MAX_S` | `43200` |" in text and "| `PII_ENABLED` | `true` |" in text
