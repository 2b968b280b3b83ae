"""``neonhub-nb db``: set up a team's shared PostgreSQL store (docs/team.md)."""

from __future__ import annotations

import sys

import click

from ..errors import NeonhubError

__all__ = ["db_command"]


@click.group(name="db")
def db_command() -> None:
    """Set up a team's shared PostgreSQL store."""


@db_command.command("init")
@click.argument("url")
@click.option("--writer", default="neonhub_writer", show_default=True, help="Writer role name.")
@click.option("--reader", default="neonhub_reader", show_default=True, help="Reader role name.")
@click.option(
    "--writer-password",
    default=None,
    help="Set the writer's password (default: generated for a new role, kept otherwise).",
)
@click.option(
    "--reader-password",
    default=None,
    help="Set the reader's password (default: generated for a new role, kept otherwise).",
)
def init_command(
    url: str,
    writer: str,
    reader: str,
    writer_password: str | None,
    reader_password: str | None,
) -> None:
    """Migrate the database at URL (the owner's) and create the writer and reader roles.

    Safe to run again, and from two machines at once. Prints the URLs to hand out:
    writers (analysts' machines, CI) and readers (dashboard, exporter). Passwords of new
    roles are generated and shown this once.
    """
    from .pg.setup import init_database

    try:
        report = init_database(
            url,
            writer=writer,
            reader=reader,
            writer_password=writer_password,
            reader_password=reader_password,
        )
    except NeonhubError as exc:
        click.echo(f"error: {' '.join(str(exc).split())}", err=True)
        sys.exit(2)
    done = (
        f"applied {len(report.applied)} migrations"
        if report.applied
        else "no migration was pending"
    )
    click.echo(f"schema version {report.schema_version}: {done}")
    click.echo(f"writers (NEONHUB_DB on analysts' machines and CI): {report.writer_url}")
    click.echo(f"readers (dashboard and exporter):                  {report.reader_url}")
    if report.writer_password_set or report.reader_password_set:
        click.echo("new passwords are shown only now: keep them in your secret store")
    if not (report.writer_password_set and report.reader_password_set):
        click.echo("PASSWORD: the role existed and keeps its password (--*-password to set one)")
