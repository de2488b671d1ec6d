"""What every owner's settings share: the `CHATWATCH_` prefix, frozen values, unknown fields refused,
secrets read from files and files that must exist.

An owner (kafka.py, console.py…) is a `SettingsPart` with its fields, its `FILE_SECRETS` and
`FILES`, and validators for its own cross-field rules; `chatwatch.settings.Settings` composes them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PREFIX = "CHATWATCH_"


class SettingsPart(BaseSettings):
    """Base of every owner's settings (and so of the composed root)."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, frozen=True, extra="forbid")

    # Secrets also read from `<name>_file` when the settings load (the file wins), and paths that must
    # name an existing file when set. Each owner lists its own; the validators below take them all.
    FILE_SECRETS: ClassVar[tuple[str, ...]] = ()
    FILES: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def declared(cls, attribute: str) -> tuple[str, ...]:
        """`FILE_SECRETS` or `FILES` of this class and every owner it is composed of."""
        return tuple(dict.fromkeys(name for klass in cls.__mro__ for name in vars(klass).get(attribute, ())))

    @model_validator(mode="before")
    @classmethod
    def _secrets_from_files(cls, data: Any) -> Any:
        """`<secret>_file` (a Kubernetes Secret mounted as files) fills `<secret>`: keys never sit in the
        environment, where `ps e` and crash reports can read them."""
        if isinstance(data, dict):  # a missing file is reported by _files_exist, where secrets print masked
            for name in cls.declared("FILE_SECRETS"):
                path = data.get(f"{name}_file")
                if path and Path(path).is_file():
                    data = {**data, name: Path(path).read_text(encoding="utf-8").strip()}
        return data

    @model_validator(mode="after")
    def _files_exist(self) -> SettingsPart:
        for name in (*self.declared("FILES"), *(f"{secret}_file" for secret in self.declared("FILE_SECRETS"))):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(f"{name}: no such file: {path}")
        return self


def _secret(value: SecretStr | None, path: Path | None) -> bytes | None:
    """A secret read when used: the file's content (stripped) if a file is named, else the value."""
    if path is not None:
        return path.read_bytes().strip()
    if value is not None and value.get_secret_value():
        return value.get_secret_value().encode()
    return None
