"""NativeAuthenticator with the qimcore hub's rules for names, sign-up, approval and login.

``jupyterhub_config.py`` selects ``qimcore_auth.QimcoreAuthenticator``. On top of
NativeAuthenticator (sign-up at ``/hub/signup``, approval by an admin at ``/hub/authorize``):

- **Names** match ``NAME_PATTERN``: 1 to 28 lower-case ASCII letters, digits, ``-`` or ``_``,
  starting with a letter, so a hub name is also a valid Unix account name (``qim-<name>``).
  Sign-up takes the name exactly as typed (``QAdmin``, Cyrillic or full-width look-alikes and
  invisible characters are refused, not mapped); login lower-cases ASCII letters first.
- **The first admin cannot be raced for.** An admin name is only created with the one-time
  token that the hub prints at start while no admin exists (``/hub/signup?admin_token=...``),
  or at start from ``admin_password_file``. Signing up as that admin again with the same
  password answers "successful", as before.
- **Approval only by POST** with the hub's XSRF token: ``/hub/authorize/<name>`` and
  ``/hub/discard/<name>`` answer 405 to GET, so a cross-site link or image cannot approve,
  unapprove or delete an account.
- **Throttling by client address**: ``failed_logins`` wrong passwords for one name from one
  address within ``throttle_seconds`` block that name from that address only (a guesser cannot
  lock the real user out); ``failed_logins_per_address`` failures for any names block the
  address; ``signups_per_address`` sign-ups per ``throttle_seconds`` per address.
"""

from __future__ import annotations

import collections
import os
import re
import secrets
import stat
import time

import bcrypt
from nativeauthenticator import NativeAuthenticator
from nativeauthenticator import handlers as native
from nativeauthenticator.orm import UserInfo
from tornado import web
from traitlets import Integer, Unicode

NAME_PATTERN = re.compile(r"[a-z][a-z0-9_-]{0,27}")
NAME_RULE = ("1 to 28 characters: lower-case ASCII letters (a-z), digits, '-' or '_', "
             "starting with a letter")


def valid_name(name: str) -> bool:
    """True when ``name`` is a hub name (``NAME_PATTERN``), exactly as given."""
    return NAME_PATTERN.fullmatch(name) is not None


def client_address(handler: web.RequestHandler) -> str:
    """The address of the client as seen by the proxy.

    configurable-http-proxy appends the peer address to ``X-Forwarded-For``, so the last entry
    is the one a remote client cannot choose (``X-Real-Ip`` and earlier entries it can).
    """
    forwarded = handler.request.headers.get("X-Forwarded-For", "")
    last = forwarded.split(",")[-1].strip()
    return last or handler.request.connection.context.address[0]


class Throttle:
    """At most ``limit`` events per key within a sliding window of ``seconds``."""

    def __init__(self, limit: int, seconds: float):
        self.limit, self.seconds = limit, seconds
        self._events: dict[object, collections.deque] = collections.defaultdict(collections.deque)

    def _recent(self, key: object) -> collections.deque:
        events, start = self._events[key], time.monotonic() - self.seconds
        while events and events[0] < start:
            events.popleft()
        if not events:
            del self._events[key]
            return collections.deque()
        return events

    def full(self, key: object) -> bool:
        return len(self._recent(key)) >= self.limit

    def add(self, key: object) -> None:
        self._recent(key)
        self._events[key].append(time.monotonic())

    def clear(self, key: object) -> None:
        self._events.pop(key, None)


def read_password_file(path: str) -> str:
    """The first line of ``path``, which must be a regular file no other account can read."""
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode) or info.st_mode & 0o077:
        raise ValueError(f"QIMCORE_HUB_ADMIN_PASSWORD_FILE {path!r} must be a file with mode 0600 "
                         f"(it has {stat.filemode(info.st_mode)})")
    with open(path) as f:
        return f.readline().rstrip("\r\n")


class QimcoreAuthenticator(NativeAuthenticator):
    """NativeAuthenticator with strict names, a race-free first admin and throttling."""

    admin_password_file = Unicode(
        "", config=True, help="File (mode 0600) with the first admin's initial password.")
    admin_signup_token = Unicode(
        "", config=True, help="One-time token that allows signing up as an admin name.")
    failed_logins = Integer(5, config=True, help="Wrong passwords per name and address.")
    failed_logins_per_address = Integer(20, config=True, help="Wrong passwords per address.")
    signups_per_address = Integer(10, config=True, help="Sign-up attempts per address.")
    throttle_seconds = Integer(600, config=True, help="Window of the three limits above.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.allowed_failed_logins = 0  # NativeAuthenticator's per-name lock: replaced below
        self._by_name = Throttle(self.failed_logins, self.throttle_seconds)
        self._by_address = Throttle(self.failed_logins_per_address, self.throttle_seconds)
        self._signups = Throttle(self.signups_per_address, self.throttle_seconds)
        if self.admin_password_file:
            self._create_admin(read_password_file(self.admin_password_file))

    def _create_admin(self, password: str) -> None:
        name = sorted(self.admin_users)[0]
        if self.get_user(name) is None:
            if not self.is_password_strong(password):
                raise ValueError("the admin password file holds a password that is too short "
                                 f"(< {self.minimum_password_length}) or too common")
            hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt())
            self.db.add(UserInfo(username=name, password=hashed, is_authorized=True))
            self.db.commit()
            self.log.info("created the approved admin account %r from the password file", name)

    def normalize_username(self, username: str) -> str:
        return "".join(ch.lower() if "A" <= ch <= "Z" else ch for ch in username)

    def validate_username(self, username: str) -> bool:
        return valid_name(username)

    async def authenticate(self, handler, data):
        name = self.normalize_username(data.get("username", ""))
        address = client_address(handler)
        if not valid_name(name):
            return None
        if self._by_address.full(address) or self._by_name.full((address, name)):
            self.log.warning("login of %r from %s refused: too many wrong passwords", name, address)
            handler.qimcore_throttled = True
            return None
        user = await super().authenticate(handler, dict(data, username=name))
        if user is None:
            self._by_address.add(address)
            self._by_name.add((address, name))
        else:
            self._by_name.clear((address, name))
        return user

    def signup_refusal(self, handler, name: str, password: str) -> tuple[str, str] | None:
        """``(alert, message)`` when this sign-up must not go ahead, else None."""
        address = client_address(handler)
        if self._signups.full(address):
            return "alert-danger", "Too many sign-ups from your address. Try again later."
        self._signups.add(address)
        if not valid_name(name):
            return "alert-danger", f"User names have {NAME_RULE}."
        if name in self.admin_users:
            existing = self.get_user(name)
            if existing is not None:  # answers like a login, so it is throttled like one
                if self._by_address.full(address) or self._by_name.full((address, name)):
                    return "alert-danger", "Too many wrong passwords. Try again later."
                if existing.is_valid_password(password):
                    return "alert-success", ("The signup was successful! You can now go to "
                                             "the home page and log in to the system.")
                self._by_address.add(address)
                self._by_name.add((address, name))
            token = handler.get_query_argument("admin_token", "")
            if existing is None and not (self.admin_signup_token and secrets.compare_digest(
                    token.encode(), self.admin_signup_token.encode())):
                return "alert-danger", ("This name is reserved for the admin. Use the one-time "
                                        "sign-up link that the hub printed at start.")
        return None

    def get_handlers(self, app):
        ours = {r"/login": LoginHandler, r"/signup": SignUpHandler,
                r"/authorize/([^/]*)": ToggleAuthorizationHandler, r"/discard/([^/]*)": DiscardHandler}
        return [(route, ours.get(route, handler)) for route, handler in super().get_handlers(app)]


class LoginHandler(native.LoginHandler):
    """NativeAuthenticator's login page; a throttled login says so and nothing else (not
    whether the password was right for an account that is not approved yet)."""

    def _render(self, login_error=None, username=None):
        if getattr(self, "qimcore_throttled", False):
            login_error = "Too many failed logins from your address. Try again later."
        return super()._render(login_error=login_error, username=username)


class SignUpHandler(native.SignUpHandler):
    """NativeAuthenticator's sign-up, after ``QimcoreAuthenticator.signup_refusal``."""

    async def post(self):
        if not self.authenticator.enable_signup:
            raise web.HTTPError(404)
        refusal = self.authenticator.signup_refusal(
            self, self.get_body_argument("username", "", strip=False),
            self.get_body_argument("signup_password", "", strip=False))
        if refusal is None:
            return await super().post()
        alert, message = refusal
        html = await self.render_template(
            "signup.html", ask_email=self.authenticator.ask_email_on_signup,
            result_message=message, alert=alert, two_factor_auth=self.authenticator.allow_2fa,
            recaptcha_key=self.authenticator.recaptcha_key, tos=self.authenticator.tos)
        self.finish(html)


class ToggleAuthorizationHandler(native.LocalBase):
    """``POST /hub/authorize/<name>`` (XSRF-checked by JupyterHub) toggles the approval."""

    @native.admin_users_scope
    async def post(self, name):
        if self.authenticator.get_user(name) is None:
            raise web.HTTPError(404)
        UserInfo.change_authorization(self.db, name)
        self.redirect(self.hub.base_url + "authorize#" + name)


class DiscardHandler(native.LocalBase):
    """``POST /hub/discard/<name>`` (XSRF-checked) deletes a sign-up that is not approved."""

    @native.admin_users_scope
    async def post(self, name):
        info = self.authenticator.get_user(name)
        if info is not None and not info.is_authorized:
            self.authenticator.delete_user(type("User", (), {"name": name}))
            if self.users.get(name) is not None:
                self.users.delete(name)
        self.redirect(self.hub.base_url + "authorize")
