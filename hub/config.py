"""Configuration from HUB_* environment variables.

Local development gets safe defaults: secrets and keys are generated once and kept in the
instance folder, so a restart keeps sessions and encrypted data readable. Production
(HUB_ENV=production) refuses to start when a secret or key is missing: a generated key there
would silently make yesterday's encrypted records unreadable.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ENVIRONMENTS = ("development", "testing", "production")


class ConfigurationError(RuntimeError):
    """The hub cannot start safely with this configuration."""


@dataclass(frozen=True)
class HubSettings:
    env: str
    secret_key: str
    database_url: str
    field_keys: list[str]
    blind_index_key: bytes
    audit_signing_key_pem: str
    base_url: str
    demo: bool
    idle_timeout_minutes: int
    absolute_timeout_hours: int
    max_content_length: int
    smtp: dict[str, str] = field(default_factory=dict)
    audit_log_origin: str = "hub.example.test/audit"
    #: The audit log's witnesses, "<URL> <verifier key>" comma-separated, their quorum and timeout
    #: (parsed by hub.audit.witnessing, which says what each means).
    audit_witnesses: str = ""
    #: The audit signing keys retired by rotations (JSON, as `audit retire-key` writes it): their
    #: public halves and periods, so the tree heads they signed still verify.
    audit_retired_keys: str = ""
    audit_witness_quorum: str = ""
    audit_witness_timeout: str = ""
    #: Addresses of the reverse proxies whose X-Request-Id and X-Forwarded-For the hub believes.
    trusted_proxies: frozenset[str] = frozenset()
    #: Published figures show a count below this as "c" (small-number suppression, hub.reports.suppression).
    report_suppression_threshold: int = 10

    @property
    def production(self) -> bool:
        return self.env == "production"


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(f"HUB_{name}")
    return value if value not in (None, "") else default


def _dev_secrets(instance_path: Path) -> dict[str, str]:
    """Generated keys for local use, created once and kept beside the SQLite database."""
    path = instance_path / "dev-secrets.json"
    stored = json.loads(path.read_text()) if path.exists() else {}
    wanted = {
        "secret_key": lambda: secrets.token_urlsafe(48),
        "field_key": lambda: Fernet.generate_key().decode(),
        "blind_index_key": lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "audit_signing_key": _new_signing_key_pem,
    }
    changed = False
    for name, make in wanted.items():
        if name not in stored:
            stored[name] = make()
            changed = True
    if changed:
        instance_path.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored, indent=2))
        path.chmod(0o600)
    return stored


def _new_signing_key_pem() -> str:
    key = Ed25519PrivateKey.generate()
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def load_settings(instance_path: Path, overrides: dict | None = None) -> HubSettings:
    """Settings from the environment; `overrides` (tests, tools) may set `env` and `database_url`."""
    overrides = overrides or {}
    env = overrides.get("env") or _env("ENV", "development")
    if env not in ENVIRONMENTS:
        raise ConfigurationError(f"HUB_ENV must be one of {', '.join(ENVIRONMENTS)}, not {env!r}")
    production = env == "production"

    required = {
        "SECRET_KEY": _env("SECRET_KEY"),
        "FIELD_KEYS": _env("FIELD_KEYS"),
        "BLIND_INDEX_KEY": _env("BLIND_INDEX_KEY"),
        "AUDIT_SIGNING_KEY": _env("AUDIT_SIGNING_KEY"),
        "DATABASE_URL": _env("DATABASE_URL"),
        "BASE_URL": _env("BASE_URL"),
    }
    if production:
        missing = [f"HUB_{k}" for k, v in required.items() if not v]
        if missing:
            raise ConfigurationError(
                "Production mode needs these settings, and they are missing: " + ", ".join(missing)
            )
        dev: dict[str, str] = {}
    else:
        secrets_given = all(required[k] for k in ("SECRET_KEY", "FIELD_KEYS", "BLIND_INDEX_KEY", "AUDIT_SIGNING_KEY"))
        dev = {} if secrets_given else _dev_secrets(instance_path)

    field_keys = (required["FIELD_KEYS"] or dev.get("field_key", "")).split(",")
    field_keys = [k.strip() for k in field_keys if k.strip()]
    for key in field_keys:
        try:
            Fernet(key)
        except ValueError as exc:
            raise ConfigurationError("HUB_FIELD_KEYS holds a key that is not a Fernet key") from exc

    blind = base64.urlsafe_b64decode(required["BLIND_INDEX_KEY"] or dev["blind_index_key"])
    if len(blind) < 32:
        raise ConfigurationError("HUB_BLIND_INDEX_KEY must be at least 32 bytes (base64)")

    database_url = required["DATABASE_URL"] or f"sqlite:///{instance_path / 'hub.sqlite3'}"
    settings = HubSettings(
        env=env,
        secret_key=required["SECRET_KEY"] or dev["secret_key"],
        database_url=overrides.get("database_url") or database_url,
        field_keys=field_keys,
        blind_index_key=blind,
        audit_signing_key_pem=_read_pem(required["AUDIT_SIGNING_KEY"] or dev["audit_signing_key"]),
        base_url=(required["BASE_URL"] or "http://127.0.0.1:5000").rstrip("/"),
        demo=(_env("DEMO", "0" if production else "1") == "1"),
        idle_timeout_minutes=int(_env("IDLE_TIMEOUT_MINUTES", "30")),
        absolute_timeout_hours=int(_env("ABSOLUTE_TIMEOUT_HOURS", "10")),
        max_content_length=int(_env("MAX_CONTENT_LENGTH", str(16 * 1024 * 1024))),
        smtp={
            k.removeprefix("HUB_SMTP_").lower(): v
            for k, v in os.environ.items()
            if k.startswith("HUB_SMTP_")
        },
        audit_log_origin=_env("AUDIT_LOG_ORIGIN", "hub.example.test/audit"),
        audit_witnesses=_env("AUDIT_WITNESSES", "") or "",
        audit_retired_keys=_read_json_setting("AUDIT_RETIRED_KEYS"),
        audit_witness_quorum=_env("AUDIT_WITNESS_QUORUM", "") or "",
        audit_witness_timeout=_env("AUDIT_WITNESS_TIMEOUT", "") or "",
        trusted_proxies=_addresses("TRUSTED_PROXIES"),
        report_suppression_threshold=_positive_int("REPORT_SUPPRESSION_THRESHOLD", 10),
    )
    return settings


def _positive_int(name: str, default: int) -> int:
    """A whole number of at least 1 (a threshold of 0 would publish every small count)."""
    text = _env(name, str(default)) or str(default)
    try:
        value = int(text)
    except ValueError as exc:
        raise ConfigurationError(f"HUB_{name} must be a whole number, not {text!r}") from exc
    if value < 1:
        raise ConfigurationError(f"HUB_{name} must be at least 1")
    return value


def _addresses(name: str) -> frozenset[str]:
    """A comma-separated list of IP addresses, each in its canonical spelling."""
    addresses = set()
    for item in (_env(name, "") or "").split(","):
        if item.strip():
            try:
                addresses.add(str(ipaddress.ip_address(item.strip())))
            except ValueError as exc:
                raise ConfigurationError(f"HUB_{name} holds {item.strip()!r}, which is not an IP address") from exc
    return frozenset(addresses)


def _read_json_setting(name: str) -> str:
    """A JSON setting given inline or as the path of a file holding it ("" when unset)."""
    value = _env(name, "") or ""
    if not value.strip() or value.lstrip().startswith(("[", "{")):
        return value
    path = Path(value)
    if not path.is_file():
        raise ConfigurationError(f"HUB_{name} is neither JSON nor a readable file")
    return path.read_text()


def _read_pem(value: str) -> str:
    """The signing key may be given inline (PEM) or as a path to a PEM file."""
    if value.lstrip().startswith("-----BEGIN"):
        return value
    path = Path(value)
    if not path.exists():
        raise ConfigurationError("HUB_AUDIT_SIGNING_KEY is neither a PEM key nor a readable file")
    return path.read_text()
