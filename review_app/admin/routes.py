"""``/admin``: users, API keys and the LLM proposer's kill switch (admins only).

Each change is one transaction in which the service appends its audit event
(``user.created``, ``user.disabled``/``user.enabled``, ``user.role_changed``,
``user.password_reset``, ``apikey.created``, ``apikey.revoked``, ``llm.kill_switch``). A new
API key and a temporary password are shown once, in the response to the POST that made them
(never stored in plain, never put in the session cookie).
"""

from __future__ import annotations

import secrets

from flask import Blueprint, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from review_app.access import actor, current_user
from review_app.admin.forms import CreateKeyForm, CreateUserForm, KillSwitchForm, RoleForm
from review_app.forms import apply_problems, status_for
from rules.errors import ConflictError, InvalidRequestError
from rules.store import accounts, settings
from rules.store.extension import database

__all__ = ["bp"]

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _users_page(form: CreateUserForm) -> tuple[str, int]:
    with database().session() as s:
        users = accounts.list_users(s)
    me = current_user()
    page = render_template(
        "admin/users.html", form=form, users=users, me=me.username if me else None
    )
    return page, status_for(form)


@bp.get("/users")
def users() -> tuple[str, int]:
    """Who may sign in, with which role; and a form to add someone."""
    return _users_page(CreateUserForm())


@bp.post("/users")
def create_user() -> Response | tuple[str, int]:
    """Create a user with a role and an initial password."""
    form = CreateUserForm()
    if form.validate_on_submit():
        try:
            with database().session() as s:
                user = accounts.create_user(
                    s, form.username.data, form.role.data, form.password.data, actor()
                )
        except InvalidRequestError as exc:
            apply_problems(form, exc)
        except ConflictError as exc:
            form.username.errors = [*form.username.errors, f"{exc.args[0]}: choose another."]
        else:
            flash(f"Created user {user.username} ({user.role}).", "success")
            return redirect(url_for("admin.users"))
    return _users_page(form)


def _refuse_self(username: str, what: str) -> Response | None:
    me = current_user()
    if me is not None and me.username == username:
        flash(f"You cannot {what} your own account; ask another admin.", "error")
        return redirect(url_for("admin.users"))
    return None


def _set_disabled(username: str, disabled: bool) -> Response:
    refused = _refuse_self(username, "disable" if disabled else "enable")
    if refused is not None:
        return refused
    try:
        with database().session() as s:
            user = accounts.set_user_disabled(s, username, disabled, actor())
    except ConflictError as exc:
        flash(f"{exc.args[0]}.", "error")
    else:
        state = "disabled: they are signed out and cannot sign in" if disabled else "enabled"
        flash(f"User {user.username} is {state}.", "success")
    return redirect(url_for("admin.users"))


@bp.post("/users/<username>/disable")
def disable_user(username: str) -> Response:
    """Stop a user from signing in (their open sessions end at their next click)."""
    return _set_disabled(username, True)


@bp.post("/users/<username>/enable")
def enable_user(username: str) -> Response:
    """Let a disabled user sign in again."""
    return _set_disabled(username, False)


@bp.post("/users/<username>/role")
def change_role(username: str) -> Response:
    """Give a user another role."""
    form = RoleForm()
    if not form.validate_on_submit():
        flash("Choose one of the roles: " + ", ".join(form.role.errors or ["none sent"]), "error")
        return redirect(url_for("admin.users"))
    refused = _refuse_self(username, "change the role of")
    if refused is not None:
        return refused
    try:
        with database().session() as s:
            user = accounts.set_user_role(s, username, form.role.data, actor())
    except ConflictError as exc:
        flash(f"{exc.args[0]}.", "error")
    else:
        flash(f"User {user.username} now has the role {user.role}.", "success")
    return redirect(url_for("admin.users"))


def temporary_password() -> str:
    """A password for an admin to hand over once: 16 characters, 96 random bits."""
    return secrets.token_urlsafe(12)


@bp.post("/users/<username>/reset-password")
def reset_password(username: str) -> Response | tuple[str, int]:
    """Give a user a temporary password, shown once here; their sessions end, and at their
    next sign-in they must choose their own."""
    refused = _refuse_self(username, "reset the password of")
    if refused is not None:
        return refused
    password = temporary_password()
    with database().session() as s:
        user = accounts.reset_password(s, username, password, actor())
    page = render_template("admin/password_reset.html", user=user, password=password)
    return page, 200


def _keys_page(form: CreateKeyForm, created: tuple[accounts.ApiKeyInfo, str] | None = None) -> str:
    with database().session() as s:
        keys = accounts.list_api_keys(s)
    return render_template("admin/apikeys.html", form=form, keys=keys, created=created)


@bp.get("/apikeys")
def apikeys() -> tuple[str, int]:
    """The API keys applications use (never the keys themselves), and a form for a new one."""
    return _keys_page(CreateKeyForm()), 200


@bp.post("/apikeys")
def create_apikey() -> tuple[str, int]:
    """Create a key and show it once, on this response only."""
    form = CreateKeyForm()
    if form.validate_on_submit():
        try:
            with database().session() as s:
                created = accounts.create_api_key(s, form.name.data, form.scopes.data, actor())
        except InvalidRequestError as exc:
            apply_problems(form, exc)
        else:
            return _keys_page(CreateKeyForm(formdata=None), created), 201
    return _keys_page(form), status_for(form)


@bp.post("/apikeys/<prefix>/revoke")
def revoke_apikey(prefix: str) -> Response:
    """Revoke a key: calls with it are refused within seconds, on every worker."""
    with database().session() as s:
        key = accounts.revoke_api_key(s, prefix, actor())
    flash(f"API key {key.name} ({key.prefix}) is revoked.", "success")
    return redirect(url_for("admin.apikeys"))


def _llm_page(form: KillSwitchForm) -> tuple[str, int]:
    with database().session() as s:
        state = settings.kill_switch(s)
    return render_template("admin/llm.html", form=form, state=state), status_for(form)


@bp.get("/llm")
def llm() -> tuple[str, int]:
    """The LLM proposer's kill switch: its state, who set it, and why."""
    return _llm_page(KillSwitchForm(formdata=None))


@bp.post("/llm")
def set_kill_switch() -> Response | tuple[str, int]:
    """Turn the kill switch on (the LLM proposer may not run) or off."""
    form = KillSwitchForm()
    if not form.validate_on_submit():
        return _llm_page(form)
    on = form.state.data == "on"
    with database().session() as s:
        state = settings.set_kill_switch(s, on, actor())
    if on:
        flash("Kill switch ON: the LLM proposer will not run.", "success")
    elif state.on:
        flash("The database switch is off, but RULEBOOK_LLM_DISABLED keeps it on.", "warning")
    else:
        flash("Kill switch OFF: the LLM proposer may run (if a model is configured).", "success")
    return redirect(url_for("admin.llm"))
