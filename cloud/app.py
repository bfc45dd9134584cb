"""SkyCam cloud relay (Chalice): REST routes for accounts, challenges, tickets and the console,
and the WebSocket routes of the tunnel. Routes only parse, call one function in chalicelib/ and
return; the logic lives in chalicelib/<domain>/ (docs/design/relay.md).

The same module runs on Lambda behind API Gateway and in `skycam relay`, the local host.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from typing import Any

import boto3
from chalice.app import Chalice, Request, Response, WebsocketEvent

if __package__:  # imported as cloud.app: tests and the local relay host
    from .chalicelib import errors, wiring
    from .chalicelib.accounts.service import RELAY_ADMIN, Account, TokenPair
    from .chalicelib.config import load_config
    from .chalicelib.edge import EdgeCheck, secrets_manager_edge_secret
    from .chalicelib.privacy import quiet_payload_loggers
    from .chalicelib.tunnel.sender import ChaliceSender
else:  # deployed: Chalice puts app.py and chalicelib/ side by side at the Lambda root
    from chalicelib import errors, wiring  # type: ignore[import-not-found,no-redef]
    from chalicelib.accounts.service import (  # type: ignore[import-not-found,no-redef]
        RELAY_ADMIN,
        Account,
        TokenPair,
    )
    from chalicelib.config import load_config  # type: ignore[import-not-found,no-redef]
    from chalicelib.edge import (  # type: ignore[import-not-found,no-redef]
        EdgeCheck,
        secrets_manager_edge_secret,
    )
    from chalicelib.privacy import (  # type: ignore[import-not-found,no-redef]
        quiet_payload_loggers,
    )
    from chalicelib.tunnel.sender import ChaliceSender  # type: ignore[import-not-found,no-redef]

quiet_payload_loggers()
app = Chalice(app_name="skycam-relay")
app.experimental_feature_flags.update(["WEBSOCKETS"])
app.websocket_api.session = boto3.session.Session()

_relay: wiring.Relay | None = None
_edge: EdgeCheck | None = None


def relay() -> wiring.Relay:
    """The relay's services, built once per process from the environment."""
    global _relay
    if _relay is None:
        _relay = wiring.build_relay(load_config(os.environ), ChaliceSender(app.websocket_api))
    return _relay


def install_relay(built: wiring.Relay | None) -> None:
    """Use services built elsewhere (the local host, tests with a fake clock); None resets."""
    global _relay, _edge
    _relay, _edge = built, None


def edge() -> EdgeCheck:
    """Whether to believe a request's CloudFront viewer address (chalicelib/edge.py)."""
    global _edge
    if _edge is None:
        secret_id = relay().config.edge_secret
        if not secret_id:
            _edge = EdgeCheck(None)
        else:
            client = boto3.session.Session().client("secretsmanager")
            _edge = EdgeCheck(secrets_manager_edge_secret(client, secret_id))
    return _edge


def _errors(view: Callable[..., Any]) -> Callable[..., Any]:
    """Our errors become 4xx answers with a reason (never a 500 for bad input)."""

    @functools.wraps(view)
    def handled(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except errors.RelayError as exc:
            return Response(body={"error": exc.code, "reason": exc.reason}, status_code=exc.status)

    return handled


def _request() -> Request:
    request = app.current_request
    if request is None:  # only inside a route
        raise RuntimeError("no current request")
    return request


def _body() -> dict[str, Any]:
    try:
        body = _request().json_body
    except Exception as exc:  # Chalice raises its BadRequestError; keep our shape
        raise errors.BadRequest("the body must be JSON") from exc
    if not isinstance(body, dict):
        raise errors.BadRequest("the body must be a JSON object")
    return body


def _address() -> str:
    request = _request()
    identity = request.context.get("identity") or {}
    return edge().address(request.headers, str(identity.get("sourceIp") or "unknown"))


def _account() -> Account:
    account: Account = relay().accounts.authenticate(_request().headers.get("authorization"))
    return account


def _admin() -> Account:
    account = _account()
    if account.role != RELAY_ADMIN:
        raise errors.Forbidden("relay admins only")
    return account


def _account_view(account: Account) -> dict[str, Any]:
    return {"id": account.id, "email": account.email, "role": account.role}


def _tokens(pair: TokenPair) -> dict[str, Any]:
    return {
        "access_token": pair.access_token,
        "expires_at": pair.access_expires_at,
        "refresh_token": pair.refresh_token,
        "account": _account_view(pair.account),
    }


# -- accounts ---------------------------------------------------------------------------------


@app.route("/v1/accounts", methods=["POST"])
@_errors
def signup() -> Response:
    body = _body()
    account = relay().accounts.signup(
        body.get("email"), body.get("password"), body.get("invitation"), _address()
    )
    return Response(body={"account": _account_view(account)}, status_code=201)


@app.route("/v1/auth/login", methods=["POST"])
@_errors
def login() -> dict[str, Any]:
    body = _body()
    return _tokens(relay().accounts.login(body.get("email"), body.get("password"), _address()))


@app.route("/v1/auth/refresh", methods=["POST"])
@_errors
def refresh() -> dict[str, Any]:
    return _tokens(relay().accounts.refresh(_body().get("refresh_token"), _address()))


@app.route("/v1/auth/logout", methods=["POST"])
@_errors
def logout() -> Response:
    relay().accounts.logout(_body().get("refresh_token"), _address())
    return Response(body="", status_code=204)


@app.route("/v1/me", methods=["GET"])
@_errors
def me() -> dict[str, Any]:
    account = _account()
    grants = relay().grants.of_account(account.id)
    status = []
    for grant in grants:  # online or not, and when last heard from: shown by the devices
        known = relay().recorders.get(grant.rid)
        online = known is not None and known.online and not known.disabled
        status.append({"rid": grant.rid, "online": online, "last_seen": known and known.last_seen})
    return {
        **_account_view(account),
        "recorders": [g.rid for g in grants],
        "recorder_status": status,
    }


@app.route("/v1/tickets", methods=["POST"])
@_errors
def ticket() -> dict[str, Any]:
    ticket_id, expires = relay().tickets.issue(_account().id)
    return {"ticket": ticket_id, "expires_at": expires}


# -- what the PWA needs to know about this relay ----------------------------------------------

# API Gateway closes a WebSocket connection after 2 hours; the device rolls over before.
WEBSOCKET_CONNECTION_MAX_S = 7200


@app.route("/.well-known/skycam-relay", methods=["GET"])
@_errors
def relay_info() -> Response:
    """`{websocket, max_connection_s}`, as the local host answers it (cloud/local/web.py): on
    AWS the PWA is served by CloudFront, which forwards this path here. Public: it names only
    the WebSocket endpoint, which anyone can resolve anyway."""
    websocket = relay().config.websocket_url
    if not websocket:
        raise errors.NotFound("this relay does not name its WebSocket URL")
    return Response(
        body={"websocket": websocket, "max_connection_s": WEBSOCKET_CONNECTION_MAX_S},
        headers={"Content-Type": "application/json", "Cache-Control": "no-cache"},
    )


# -- remote media ------------------------------------------------------------------------------


@app.route("/v1/media/links", methods=["POST"])
@_errors
def media_links() -> dict[str, Any]:
    """Signed download links for media session objects and thumbnails (ciphertext)."""
    account = _account()
    return relay().media.links(account.id, _body().get("keys"))


# -- recorders --------------------------------------------------------------------------------


@app.route("/v1/recorders/challenge", methods=["POST"])
@_errors
def challenge() -> dict[str, Any]:
    nonce, expires = relay().recorders.challenge(_body().get("recorder_id"))
    return {"nonce": nonce, "expires_at": expires}


# -- console (relay admins) -------------------------------------------------------------------


@app.route("/v1/console/recorders", methods=["GET"])
@_errors
def console_recorders() -> dict[str, Any]:
    _admin()
    return {"recorders": relay().console.recorders()}


@app.route("/v1/console/recorders/{rid}/disable", methods=["POST"])
@_errors
def console_disable_recorder(rid: str) -> dict[str, Any]:
    admin = _admin()
    closed = relay().router.recorder_disabled(rid)
    relay().audit.record("recorder_disabled", rid=rid, address=_address(), detail=f"by {admin.id}")
    return {"rid": rid, "disabled": True, "sessions_closed": closed}


@app.route("/v1/console/accounts", methods=["GET"])
@_errors
def console_accounts() -> dict[str, Any]:
    _admin()
    return {"accounts": relay().console.accounts()}


@app.route("/v1/console/accounts/{acct}/disable", methods=["POST"])
@_errors
def console_disable(acct: str) -> dict[str, Any]:
    admin = _admin()
    if acct == admin.id:
        raise errors.BadRequest("an admin cannot disable their own account")
    account = relay().accounts.disable(acct, _address(), by=admin.id)
    relay().router.account_disabled(acct)
    return {**_account_view(account), "disabled": True}


@app.route("/v1/console/grants", methods=["GET"])
@_errors
def console_grants() -> dict[str, Any]:
    _admin()
    return {"grants": relay().console.grants()}


@app.route("/v1/console/grants/{rid}/{acct}", methods=["DELETE"])
@_errors
def console_revoke(rid: str, acct: str) -> dict[str, Any]:
    admin = _admin()
    closed = relay().router.revoke(rid, acct, by=admin.id)
    return {"revoked": True, "sessions_closed": closed}


@app.route("/v1/console/audit", methods=["GET"])
@_errors
def console_audit() -> dict[str, Any]:
    _admin()
    params: Mapping[str, str] = _request().query_params or {}
    try:
        limit = min(int(params.get("limit") or "200"), 1000)
    except ValueError as exc:
        raise errors.BadRequest("limit must be an integer") from exc
    day = params.get("day")
    if day is not None and (len(day) != 10 or not day.replace("-", "").isdigit()):
        raise errors.BadRequest("day must be YYYY-MM-DD")
    return {"entries": relay().console.audit(day, limit)}


# -- the tunnel's WebSocket routes -------------------------------------------------------------


@app.on_ws_connect()
def ws_connect(event: WebsocketEvent) -> Response:
    raw = event.to_dict()
    query = raw.get("queryStringParameters") or {}
    address = str(raw["requestContext"].get("identity", {}).get("sourceIp") or "unknown")
    try:
        relay().router.connect(event.connection_id, query, address)
    except errors.RelayError as exc:
        return Response(body=exc.reason, status_code=exc.status)
    return Response(body="", status_code=200)


@app.on_ws_message()
def ws_message(event: WebsocketEvent) -> None:
    relay().router.message(event.connection_id, event.to_dict().get("body"))


@app.on_ws_disconnect()
def ws_disconnect(event: WebsocketEvent) -> None:
    relay().router.disconnect(event.connection_id)
