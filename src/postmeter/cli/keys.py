"""API keys from the command line: mint (the secret is printed once), list, revoke."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer

from postmeter.cli.options import Key
from postmeter.cli.output import emit_json, show, table
from postmeter.cli.session import key_or_new, session
from postmeter.service import keys

key_app = typer.Typer(help="API keys for the HTTP API.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(key_app, name="key")


@key_app.command("create")
def key_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", help="What the key is for.")],
    role: Annotated[str, typer.Option("--role", help="operator or account.")] = "operator",
    account: Annotated[
        str | None, typer.Option("--account", help="For an account key: its account.")
    ] = None,
    read_only: Annotated[bool, typer.Option("--read-only", help="May read, not change.")] = False,
    key: Key = None,
) -> None:
    """Mint an API key; its secret is printed now and never again."""
    state = session(ctx)
    made = keys.create_key(
        state.books(),
        state.actor,
        key_or_new(key),
        name,
        role=role,
        account=account,
        read_only=read_only,
    )
    if state.json:
        emit_json({**asdict(made.info), "secret": made.secret})
        return
    secret = made.secret or "(not shown again: this key was minted by an earlier request)"
    show(f"API key {made.info.prefix} ({made.info.role}) minted; the secret, shown once:", secret)


@key_app.command("list")
def key_list(
    ctx: typer.Context,
    account: Annotated[
        str | None, typer.Option("--account", help="Only this account and those below it.")
    ] = None,
) -> None:
    """List API keys (never their secrets)."""
    state = session(ctx)
    found = keys.list_keys(state.books(), account)
    if state.json:
        emit_json({"keys": [asdict(k) for k in found]})
        return
    rows = [
        (
            k.prefix,
            k.name,
            k.role,
            k.account or "-",
            "yes" if k.read_only else "no",
            k.revoked_at or "-",
        )
        for k in found
    ]
    show(table("API keys", ["prefix", "name", "role", "account", "read-only", "revoked"], rows))


@key_app.command("revoke")
def key_revoke(ctx: typer.Context, prefix: str, key: Key = None) -> None:
    """Revoke an API key: the next request made with it is refused."""
    state = session(ctx)
    done = keys.revoke_key(state.books(), state.actor, key_or_new(key), prefix)
    if state.json:
        emit_json(asdict(done))
    else:
        show(f"API key {done.prefix} revoked at {done.revoked_at}")
