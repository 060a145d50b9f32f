"""Alembic environment. The app runs migrations through `persistence.migrate.apply_migrations`,
which passes an open connection (holding the advisory lock) in `config.attributes`."""

from alembic import context

from persistence.orm import Base

target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("Run migrations through persistence.migrate.apply_migrations")
    # The version table lives in the app's schema with everything else (see persistence.schema).
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table_schema=context.config.attributes["schema"],
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
