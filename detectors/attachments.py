"""Attachment predicates: MIME type, extension, size, name, sha256, double extension, MIME mismatch.

Works on metadata only (WhatsApp tells us name, MIME type, size and sha256; the bytes stay at
Meta until someone downloads them), so "password-protected archive" is expressed in packs as
an archive plus a password mentioned in the caption.
"""

from __future__ import annotations

import fnmatch
import mimetypes
from dataclasses import dataclass

import re2

RISKY_EXTENSIONS = frozenset(
    ["exe", "scr", "bat", "cmd", "com", "pif", "js", "jse", "vbs", "vbe", "wsf", "wsh", "hta", "msi", "msp", "ps1", "psm1", "jar", "lnk", "apk", "dll", "cpl", "reg", "iso", "img", "sh", "app", "dmg", "scf", "inf"]
)
DOCUMENT_LIKE = frozenset(
    ["pdf", "doc", "docx", "docm", "xls", "xlsx", "xlsm", "ppt", "pptx", "pptm", "txt", "rtf", "csv", "jpg", "jpeg", "png", "gif", "bmp", "heic", "webp", "mp3", "mp4", "mov", "avi", "zip", "rar", "7z", "odt", "ods", "xml", "html", "htm"]
)
# MIME names that mean the same; WhatsApp clients send several of these.
ALIASES = {
    "image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "application/x-zip-compressed": "application/zip",
    "application/x-pdf": "application/pdf", "audio/mp3": "audio/mpeg", "application/x-msdos-program":
    "application/x-msdownload", "application/x-dosexec": "application/x-msdownload",
    "application/vnd.microsoft.portable-executable": "application/x-msdownload",
}
EXTRA_TYPES = {
    "docm": "application/vnd.ms-word.document.macroenabled.12",
    "xlsm": "application/vnd.ms-excel.sheet.macroenabled.12",
    "pptm": "application/vnd.ms-powerpoint.presentation.macroenabled.12",
    "exe": "application/x-msdownload", "msi": "application/x-msi", "apk": "application/vnd.android.package-archive",
    "rar": "application/vnd.rar", "7z": "application/x-7z-compressed", "webp": "image/webp", "heic": "image/heic",
    "opus": "audio/ogg", "ogg": "audio/ogg", "amr": "audio/amr", "aac": "audio/aac", "m4a": "audio/mp4",
}
GENERIC_TYPES = frozenset({"application/octet-stream", "binary/octet-stream", "application/unknown", ""})
RTL_OVERRIDE = "\u202e"


@dataclass(frozen=True)
class AttachmentInfo:
    filename: str | None = None
    mime_type: str | None = None
    size: int | None = None
    sha256: str | None = None


def base_mime(mime: str | None) -> str:
    m = (mime or "").split(";")[0].strip().lower()
    return ALIASES.get(m, m)


def extension(filename: str | None) -> str:
    name = (filename or "").strip().rstrip(". ").lower()
    return name.rsplit(".", 1)[1].strip() if "." in name else ""


def has_double_extension(filename: str | None) -> bool:
    """'factura.pdf.exe', 'foto.jpg   .scr', or a right-to-left override hiding the real extension."""
    name = (filename or "").strip().lower()
    if RTL_OVERRIDE in name:
        return True
    parts = [p.strip() for p in name.split(".")]
    return len(parts) >= 3 and parts[-1] in RISKY_EXTENSIONS and parts[-2] in DOCUMENT_LIKE


def expected_mime(ext: str) -> str | None:
    if not ext:
        return None
    if ext in EXTRA_TYPES:
        return EXTRA_TYPES[ext]
    guessed, _ = mimetypes.guess_type(f"x.{ext}", strict=False)
    return base_mime(guessed) if guessed else None


def extension_disagrees(filename: str | None, mime: str | None) -> bool:
    """A known extension whose usual MIME type is not the declared one (generic types never disagree)."""
    declared = base_mime(mime)
    expected = expected_mime(extension(filename))
    if not expected or declared in GENERIC_TYPES:
        return False
    if expected.startswith("text/") and declared.startswith("text/"):
        return False  # text/plain vs text/csv is not a disguise
    return declared != expected


@dataclass(frozen=True)
class AttachmentPredicate:
    """A compiled `attachment:` condition; `why` says which fields matched (for evidence)."""

    mime_globs: tuple[str, ...] = ()
    extensions: frozenset[str] = frozenset()
    filename_globs: tuple[str, ...] = ()
    filename_regex: object | None = None  # compiled RE2
    min_size: int | None = None
    max_size: int | None = None
    sha256: frozenset[str] = frozenset()
    double_extension: bool | None = None
    extension_mismatch: bool | None = None

    def why(self, att: AttachmentInfo) -> str | None:
        """The matched fields, or None when this attachment does not satisfy every given field."""
        reasons = []
        if self.mime_globs:
            mime = base_mime(att.mime_type)
            if not any(fnmatch.fnmatchcase(mime, g) for g in self.mime_globs):
                return None
            reasons.append("mime_type")
        if self.extensions:
            if extension(att.filename) not in self.extensions:
                return None
            reasons.append("extension")
        if self.filename_globs:
            name = (att.filename or "").lower()
            if not any(fnmatch.fnmatchcase(name, g) for g in self.filename_globs):
                return None
            reasons.append("filename")
        if self.filename_regex is not None:
            if not att.filename or not self.filename_regex.search(att.filename):
                return None
            reasons.append("filename_regex")
        if self.min_size is not None or self.max_size is not None:
            if att.size is None:
                return None
            if (self.min_size is not None and att.size < self.min_size) or (
                    self.max_size is not None and att.size > self.max_size):
                return None
            reasons.append("size")
        if self.sha256:
            if (att.sha256 or "").lower() not in self.sha256:
                return None
            reasons.append("sha256")
        if self.double_extension is not None:
            if has_double_extension(att.filename) is not self.double_extension:
                return None
            reasons.append("double_extension")
        if self.extension_mismatch is not None:
            if extension_disagrees(att.filename, att.mime_type) is not self.extension_mismatch:
                return None
            reasons.append("extension_mismatch")
        return "+".join(reasons)


def compile_regex(pattern: str) -> object:
    return re2.compile(pattern)
