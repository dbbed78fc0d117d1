"""API keys: from the usual env vars, or saved by the user in an owner-only file in the data dir.

A key saved through the app wins over the environment, because saving is the more recent, explicit
choice. Keys never leave this module except into an SDK client: not into the API, logs or messages.
The file is JSON {provider: key}, replaced atomically, created with mode 0600 before a byte is written.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import msgspec

from server.files import write_atomic
from server.llm.types import ProviderName

log = logging.getLogger(__name__)

KEY_FILE_NAME = "llm_keys.json"
KeySource = Literal["environment", "saved", "none"]

# The variables each vendor's own SDK and docs use, first match wins.
ENV_VARS: Mapping[ProviderName, tuple[str, ...]] = {
    "anthropic": ("ANTHROPIC_API_KEY",),
    "openai": ("OPENAI_API_KEY",),
    "deepseek": ("DEEPSEEK_API_KEY",),
    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
}


class InvalidApiKeyError(ValueError):
    """A key that cannot be saved (wrong provider, malformed)."""


class KeyStore:
    """Reads keys from the environment and `data_dir/llm_keys.json`; saves to the file."""

    def __init__(self, data_dir: Path, environ: Mapping[str, str] | None = None) -> None:
        self.path = data_dir / KEY_FILE_NAME
        self._environ = os.environ if environ is None else environ
        self._lock = threading.Lock()

    def get(self, provider: ProviderName) -> tuple[str | None, KeySource]:
        saved = self._read().get(provider)
        if saved:
            return saved, "saved"
        for variable in ENV_VARS.get(provider, ()):
            value = self._environ.get(variable, "").strip()
            if value:
                return value, "environment"
        return None, "none"

    def save(self, provider: ProviderName, api_key: str) -> None:
        if provider not in ENV_VARS:
            raise InvalidApiKeyError(f"{provider} does not use an API key.")
        key = api_key.strip()
        # A pasted key with a line break or space inside is a paste error, and would break the header.
        if not key or any(c.isspace() or not c.isprintable() for c in key):
            raise InvalidApiKeyError("The API key contains spaces or control characters; paste it again.")
        with self._lock:
            keys = self._read()
            keys[provider] = key
            self._write(keys)
        log.info("Saved an API key for %s in %s", provider, self.path)

    def forget(self, provider: ProviderName) -> None:
        with self._lock:
            keys = self._read()
            if keys.pop(provider, None) is not None:
                self._write(keys)
                log.info("Removed the saved API key for %s", provider)

    def _read(self) -> dict[str, str]:
        try:
            mode = self.path.stat().st_mode
        except FileNotFoundError:
            return {}
        if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
            # Someone (a copy, a restore from backup) widened it; tighten it rather than refuse, and say so.
            log.warning("%s was readable by other users; resetting its mode to 0600", self.path)
            self.path.chmod(0o600)
        try:
            return msgspec.json.decode(self.path.read_bytes(), type=dict[str, str])
        except (OSError, msgspec.DecodeError):
            # Never echo the content: it is the keys.
            log.warning("Could not read saved API keys from %s; ignoring the file", self.path)
            return {}

    def _write(self, keys: dict[str, str]) -> None:
        write_atomic(self.path, msgspec.json.encode(keys), mode=0o600)  # 0600 before any byte is written
