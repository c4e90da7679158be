"""API clients, their tokens, and the episode operations agency systems call.

The only code in hub.api that changes data. An API client acts for its organisation: it is
handed to the missing-episode services as an `ApiActor`, which has what those services and
hub.permissions ask of an actor (organisation, roles, active) and no user id, so the audit log
records the organisation, the role the client acts in, and `auth_method` "api:<client_id>":
every event names the client. Refusals are committed on their own (hub.audit.service.record_refusal)
before the request fails; every change commits once, with its audit event and, when a request
carried an Idempotency-Key, the stored response.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from hub import db
from hub.api.schemas import NewEpisode, episode_json, parse_changes, parse_new_episode
from hub.audit import service as audit
from hub.auth import service as auth_service
from hub.db import unit_of_work, utcnow
from hub.errors import HubError, Invalid, NotFound
from hub.missing import reading as episode_reading
from hub.missing import service as missing
from hub.missing.details import EpisodeChanges
from hub.models.api import ApiClient, ApiToken, IdempotencyRecord
from hub.models.auth import Organisation
from hub.models.missing import EpisodeSource, MissingEpisode
from hub.models.roles import Role
from hub.permissions import API_ROLE_FOR_KIND, is_police_officer, load_force_episode

SCOPES = {
    "episodes:read": "Read the missing episodes your organisation holds",
    "episodes:write": "Record missing episodes and change those your organisation holds",
}
TOKEN_LIFETIME = timedelta(hours=1)
#: The role an API client acts in, by the kind of organisation it belongs to.
ROLE_FOR_KIND = API_ROLE_FOR_KIND
IDEMPOTENCY_KEY_MAX = 200
MAX_ID = 2**31 - 1


class Conflict(HubError):
    status = 409


class KeyReused(Invalid):
    """The Idempotency-Key was used before for a different request (a 422, against the header)."""

    def __init__(self, message: str):
        super().__init__({"Idempotency-Key": message})


@dataclass(frozen=True)
class ApiSession:
    """Stands where a user's sign-in session stands: the audit log reads `method` from it."""

    method: str


@dataclass
class ApiActor:
    """An API client acting for its organisation, in the role its organisation's kind gives."""

    client_pk: int
    client_id: str
    organisation: Organisation
    roles: set[Role] = field(default_factory=set)
    scopes: frozenset[str] = frozenset()
    active: bool = True
    #: Not a user: the audit log's actor_user_id stays empty and no record claims a creator.
    id: None = None

    @property
    def organisation_id(self) -> int:
        return self.organisation.id

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def current_session(self) -> ApiSession:
        return ApiSession(f"api:{self.client_id}")


def _hasher() -> PasswordHasher:
    # The same Argon2id hasher as user passwords (cheap parameters in tests, like sign-in).
    return auth_service.passwords().hasher


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def actor_for(client: ApiClient, scopes: str = "") -> ApiActor:
    role = ROLE_FOR_KIND.get(client.organisation.kind)
    return ApiActor(client_pk=client.id, client_id=client.client_id, organisation=client.organisation,
                    roles={role} if role else set(), scopes=frozenset(scopes.split()),
                    active=client.active and client.organisation.active)


# --- clients (the command line) ---------------------------------------------------------------------

@dataclass
class NewClient:
    client: ApiClient
    secret: str


def create_client(org_code: str, name: str, scopes: str, *, client_id: str | None = None,
                  secret: str | None = None) -> NewClient:
    """A client for an organisation's system; the secret is returned once and kept only hashed.
    `client_id` and `secret` are given only by the demo data (fictional, printed on purpose)."""
    wanted = scopes.split()
    errors: dict[str, str] = {}
    org = db.session().scalar(select(Organisation).where(Organisation.code == org_code.strip().upper()))
    if org is None or not org.active:
        errors["org"] = "No active organisation has this code"
    elif org.kind not in ROLE_FOR_KIND:
        errors["org"] = "API clients are for police forces (they record missing episodes)"
    if not wanted or set(wanted) - SCOPES.keys():
        errors["scopes"] = "Give one or more of: " + " ".join(SCOPES)
    if not name.strip() or len(name) > 200:
        errors["name"] = "Give the client a name of 200 characters or fewer"
    if errors:
        raise Invalid(errors)
    secret = secret or secrets.token_urlsafe(32)
    with unit_of_work() as s:
        client = ApiClient(client_id=client_id or f"hub-{secrets.token_hex(8)}",
                           secret_hash=auth_service.hash_password(secret),
                           organisation_id=org.id, name=name.strip(), scopes=" ".join(sorted(set(wanted))),
                           active=True)
        s.add(client)
        s.flush()
        audit.record("create", object_type="api-client", object_id=client.client_id,
                     detail={"organisation": org.code, "scopes": client.scopes})
    return NewClient(client, secret)


def client_by_id(client_id: str) -> ApiClient | None:
    return db.session().scalar(select(ApiClient).where(ApiClient.client_id == client_id))


def list_clients() -> list[ApiClient]:
    return list(db.session().scalars(select(ApiClient).order_by(ApiClient.id)))


def revoke_client(client_id: str) -> ApiClient:
    """Deactivate the client and revoke every token it holds, at once."""
    with unit_of_work() as s:
        client = s.scalar(select(ApiClient).where(ApiClient.client_id == client_id))
        if client is None:
            raise NotFound("no such client")
        client.active = False
        s.execute(update(ApiToken).where(ApiToken.client_pk == client.id).values(revoked=True))
        audit.record("revoke", object_type="api-client", object_id=client.client_id)
    return client


# --- tokens -------------------------------------------------------------------------------------

def _plausible_client_id(client_id: str | None) -> bool:
    # Visible ASCII only: anything else is not a client id, and PostgreSQL refuses NUL outright.
    return bool(client_id) and len(client_id) <= 64 and all("!" <= c <= "~" for c in client_id)


def find_client(client_id: str) -> ApiClient | None:
    """The active client with this id (authlib's query_client): an inactive one cannot sign in."""
    if not _plausible_client_id(client_id):
        return None
    client = db.session().scalar(select(ApiClient).where(ApiClient.client_id == client_id))
    if client is None or not client.active or not client.organisation.active:
        return None
    return client


def check_secret(client: ApiClient, secret: str | None) -> bool:
    try:
        return bool(secret) and _hasher().verify(client.secret_hash, secret)
    except (VerificationError, InvalidHashError):
        return False


def burn_a_hash(secret: str | None) -> None:
    """An unknown client costs the same Argon2 work as a known one: timing tells nothing."""
    with suppress(VerificationError, InvalidHashError):
        _hasher().verify(auth_service.passwords().dummy_hash, secret or "")


def allowed_scope(client: ApiClient, requested: str | None) -> str | None:
    """The scopes a token gets: those asked for, which must all be the client's (None refuses
    the request), or all the client's when none are asked for."""
    held = set(client.scopes.split())
    if not requested:
        return " ".join(sorted(held))
    asked = set(requested.split())
    return " ".join(sorted(asked)) if asked <= held else None


def issue_token(client: ApiClient, access_token: str, scope: str) -> ApiToken:
    """Store a new token (its SHA-256 only) and audit the client's sign-in."""
    with unit_of_work() as s:
        token = ApiToken(client_pk=client.id, token_hash=_sha256(access_token), scopes=scope,
                         expires_at=utcnow() + TOKEN_LIFETIME, revoked=False)
        s.add(token)
        s.flush()
        audit.record("sign-in", actor=actor_for(client, scope), object_type="api-client",
                     object_id=client.client_id, detail={"scopes": scope})
    return token


def refuse_token(client_id: str | None, reason: str) -> None:
    """A refused token request, on record (no secret, no personal data)."""
    with unit_of_work():
        audit.record("sign-in", outcome=audit.REFUSED, object_type="api-client",
                     object_id=client_id if _plausible_client_id(client_id) else None,
                     detail={"reason": reason[:40]})


def token_by_value(access_token: str) -> ApiToken | None:
    if not access_token or len(access_token) > 200:
        return None
    return db.session().scalar(select(ApiToken).where(ApiToken.token_hash == _sha256(access_token)))


def token_usable(token: ApiToken, now: datetime | None = None) -> bool:
    client = token.client
    return (not token.revoked and token.expires_at > (now or utcnow()) and client.active
            and client.organisation.active)


# --- idempotency --------------------------------------------------------------------------------

@dataclass
class ApiResult:
    status: int
    body: dict[str, Any]
    replayed: bool = False


def request_hash(method: str, path: str, body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return _sha256(f"{method}\n{path}\n{canonical}")


def _stored(actor: ApiActor, key: str, fingerprint: str) -> ApiResult | None:
    record = db.session().scalar(select(IdempotencyRecord).where(IdempotencyRecord.client_pk == actor.client_pk,
                                                                 IdempotencyRecord.key == key))
    if record is None:
        return None
    if record.request_hash != fingerprint:
        raise KeyReused("This Idempotency-Key was used for a different request: use a new key for a new request")
    return ApiResult(record.status_code, json.loads(record.response_body), replayed=True)


def idempotent(actor: ApiActor, key: str | None, fingerprint: str,
               operation: Callable[[], ApiResult]) -> ApiResult:
    """Run `operation` once per (client, key). The record is inserted first, in the same
    transaction as the change: a concurrent duplicate waits on (PostgreSQL) or is serialised
    behind (SQLite) the unique constraint, fails there, and replays the stored response."""
    found = _stored(actor, key, fingerprint) if key is not None else None
    if found is not None:
        return found
    try:
        with unit_of_work() as s:
            record = None
            if key is not None:
                record = IdempotencyRecord(client_pk=actor.client_pk, key=key, request_hash=fingerprint,
                                           status_code=0, response_body="")
                s.add(record)
                s.flush()
            result = operation()
            if record is not None:
                record.status_code, record.response_body = result.status, json.dumps(result.body)
                s.flush()
    except IntegrityError:
        # Either a duplicate of this key (replay it), or another request made the same episode
        # at the same moment (the police reference's unique constraint): a conflict to retry.
        found = _stored(actor, key, fingerprint) if key is not None else None
        if found is None:
            raise Conflict("Another request changed this at the same moment: send it again") from None
        return found
    return result


# --- episodes -----------------------------------------------------------------------------------

def _own_episode(actor: ApiActor, episode_id: int, action: str) -> MissingEpisode:
    """An episode the client's force holds, or an audited 404 (hub.permissions)."""
    return load_force_episode(actor, episode_id, action, MAX_ID)


def _may_write(actor: ApiActor) -> int:
    if not is_police_officer(actor):
        raise Invalid({"": "Only a police force's client records missing episodes"})
    return actor.organisation_id


def create_episode(actor: ApiActor, new: NewEpisode) -> ApiResult:
    """The force's system reports an episode; the child must already be known to the hub (the
    API never creates children). The school is told exactly as when a page records it."""
    force = _may_write(actor)
    details = new.details()
    who = new.child
    child_id = missing.match_child(who.police_id, who.nhs_number, who.given_name, who.family_name,
                                   who.date_of_birth)
    if child_id is None:
        raise Invalid({"child": "No child in the hub matches: check the identifiers, or record the child "
                                "through the hub's pages first"})
    # apply_police_record would bring an existing episode up to date (the download's rule); a
    # POST only ever creates, so a known reference is a conflict that points to the episode.
    existing = db.session().scalar(select(MissingEpisode.id).where(
        MissingEpisode.police_org_id == force, MissingEpisode.police_reference == details.police_reference))
    if existing is not None:
        raise Conflict(f"An episode with this police reference is already recorded: /api/v1/episodes/{existing}")
    outcome = missing.apply_police_record(actor, force, child_id, details, EpisodeSource.api)
    return ApiResult(201, episode_json(outcome.episode))


def change_episode(actor: ApiActor, episode_id: int, changes: EpisodeChanges) -> ApiResult:
    """Apply a merge patch through the same service (and notifications) as the episode page."""
    _may_write(actor)
    episode = missing.update_episode(actor, episode_id, changes, source=EpisodeSource.api)
    return ApiResult(200, episode_json(episode))


def read_episode(actor: ApiActor, episode_id: int) -> dict[str, Any]:
    _own_episode(actor, episode_id, "read")
    return episode_json(episode_reading.get_episode(actor, episode_id))


def post_episode(actor: ApiActor, body: Any, key: str | None, fingerprint: str) -> ApiResult:
    """POST /episodes: check the body, then create once per Idempotency-Key."""
    new = parse_new_episode(body)
    return idempotent(actor, key, fingerprint, lambda: create_episode(actor, new))


def patch_episode(actor: ApiActor, episode_id: int, body: Any, key: str | None, fingerprint: str) -> ApiResult:
    """PATCH /episodes/{id}: the organisation's own episode only, then change once per key."""
    _may_write(actor)
    _own_episode(actor, episode_id, "update")  # the object-level check (and its refusal) before any change
    changes = parse_changes(body)
    return idempotent(actor, key, fingerprint, lambda: change_episode(actor, episode_id, changes))
