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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ENVIRONMENTS = ("development", "testing", "production")
#: HUB_OUTBOUND_HOSTS outside production when unset: this machine's loopback, any port (the demo's
#: witnesses, the tests' providers). Production's is empty: nothing outside until the operator lists it.
LOOPBACK_HOSTS = "localhost,127.0.0.1,::1"


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
    #: The hosts the hub may call over HTTP (parsed by hub.outbound, which says what they mean).
    outbound_hosts: str = ""
    #: Addresses of the reverse proxies whose X-Request-Id and X-Forwarded-For the hub believes.
    trusted_proxies: frozenset[str] = frozenset()
    #: Published figures show a count below this as "c" (small-number suppression, hub.reports.suppression).
    report_suppression_threshold: int = 10
    #: How much lower than the web pages the background commands run on the CPU (Unix nice, 0 to
    #: 19): the delivery worker and a download imported from the command line. 10 by default.
    background_nice: int = 10

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
    changed = False
    for name, make in _SECRET_MAKERS.items():
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


_SECRET_MAKERS = {
    "secret_key": lambda: secrets.token_urlsafe(48),
    "field_key": lambda: Fernet.generate_key().decode(),
    "blind_index_key": lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
    "audit_signing_key": _new_signing_key_pem,
}


def new_secrets() -> dict[str, str]:
    """A new secret key, field key, blind index key and audit signing key (PEM), named as in
    dev-secrets.json (`keys generate` prints them for a production configuration)."""
    return {name: make() for name, make in _SECRET_MAKERS.items()}


#: The secrets: required in production; generated once and kept in the instance folder elsewhere
#: (unless all four are given), named by their key in dev-secrets.json.
_SECRETS = {"SECRET_KEY": "secret_key", "FIELD_KEYS": "field_key", "BLIND_INDEX_KEY": "blind_index_key",
            "AUDIT_SIGNING_KEY": "audit_signing_key"}
_REQUIRED_IN_PRODUCTION = (*_SECRETS, "DATABASE_URL", "BASE_URL")


def load_settings(instance_path: Path, overrides: dict | None = None) -> HubSettings:
    """Settings from the environment; `overrides` (tests, tools) may set `env` and `database_url`."""
    overrides = overrides or {}
    env = overrides.get("env") or _env("ENV", "development")
    if env not in ENVIRONMENTS:
        raise ConfigurationError(f"HUB_ENV must be one of {', '.join(ENVIRONMENTS)}, not {env!r}")
    production = env == "production"
    given = _secrets(instance_path, production)
    return HubSettings(
        env=env,
        secret_key=given["SECRET_KEY"],
        field_keys=_field_keys(given["FIELD_KEYS"]),
        blind_index_key=_blind_index_key(given["BLIND_INDEX_KEY"]),
        audit_signing_key_pem=_read_pem(given["AUDIT_SIGNING_KEY"]),
        database_url=overrides.get("database_url") or _env("DATABASE_URL")
        or f"sqlite:///{instance_path / 'hub.sqlite3'}",
        demo=(_env("DEMO", "0" if production else "1") == "1"),
        smtp={k.removeprefix("HUB_SMTP_").lower(): v for k, v in os.environ.items() if k.startswith("HUB_SMTP_")},
        outbound_hosts=_env("OUTBOUND_HOSTS", "" if production else LOOPBACK_HOSTS) or "",
        **{name: parse(variable) for name, variable, parse in _SETTINGS},
    )


def _secrets(instance_path: Path, production: bool) -> dict[str, str]:
    """The four secrets' texts: as given, refused in production when one (or the database or
    address) is missing, and otherwise the generated development ones where none is given."""
    given = {name: _env(name) for name in _SECRETS}
    if production:
        missing = [f"HUB_{name}" for name in _REQUIRED_IN_PRODUCTION if not _env(name)]
        if missing:
            raise ConfigurationError(
                "Production mode needs these settings, and they are missing: " + ", ".join(missing)
            )
        return given
    if all(given.values()):
        return given
    dev = _dev_secrets(instance_path)
    return {name: given[name] or dev[key] for name, key in _SECRETS.items()}


def _field_keys(text: str) -> list[str]:
    keys = [k.strip() for k in text.split(",") if k.strip()]
    for key in keys:
        try:
            Fernet(key)
        except ValueError as exc:
            raise ConfigurationError("HUB_FIELD_KEYS holds a key that is not a Fernet key") from exc
    return keys


def _blind_index_key(text: str) -> bytes:
    key = base64.urlsafe_b64decode(text)
    if len(key) < 32:
        raise ConfigurationError("HUB_BLIND_INDEX_KEY must be at least 32 bytes (base64)")
    return key


def _text(default: str) -> Callable[[str], str]:
    return lambda name: _env(name, default) or default


def _address_of_hub(name: str) -> str:
    """The hub's public address, for links in e-mails, without a trailing slash."""
    return (_env(name) or "http://127.0.0.1:5000").rstrip("/")


def _whole_number(default: int) -> Callable[[str], int]:
    return lambda name: int(_env(name, str(default)) or default)


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


def _niceness(name: str) -> int:
    text = _env(name, "10") or "10"
    if not text.isdigit() or int(text) > 19:
        raise ConfigurationError(f"HUB_{name} must be a whole number from 0 to 19, not {text!r}")
    return int(text)


def lower_priority_of_background_work(settings: HubSettings) -> None:
    """Run this process (a background command) at `background_nice` below the web pages: when
    the machine is busy, people's pages come first and the background work takes what is left
    (it gets all of an idle machine). The database server's own work for it is not lowered."""
    if settings.background_nice and hasattr(os, "nice"):
        os.nice(settings.background_nice)


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


#: The settings read one way each: HubSettings field, HUB_ variable, and the parser given the
#: variable's name (which reads it, applies the default and refuses a wrong value).
_SETTINGS: tuple[tuple[str, str, Callable[[str], object]], ...] = (
    ("base_url", "BASE_URL", _address_of_hub),
    ("idle_timeout_minutes", "IDLE_TIMEOUT_MINUTES", _whole_number(30)),
    ("absolute_timeout_hours", "ABSOLUTE_TIMEOUT_HOURS", _whole_number(10)),
    ("max_content_length", "MAX_CONTENT_LENGTH", _whole_number(16 * 1024 * 1024)),
    ("audit_log_origin", "AUDIT_LOG_ORIGIN", _text("hub.example.test/audit")),
    ("audit_witnesses", "AUDIT_WITNESSES", _text("")),
    ("audit_retired_keys", "AUDIT_RETIRED_KEYS", _read_json_setting),
    ("audit_witness_quorum", "AUDIT_WITNESS_QUORUM", _text("")),
    ("audit_witness_timeout", "AUDIT_WITNESS_TIMEOUT", _text("")),
    ("trusted_proxies", "TRUSTED_PROXIES", _addresses),
    ("report_suppression_threshold", "REPORT_SUPPRESSION_THRESHOLD", lambda name: _positive_int(name, 10)),
    ("background_nice", "BACKGROUND_NICE", _niceness),
)
