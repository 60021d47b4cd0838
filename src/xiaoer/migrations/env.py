"""Alembic environment: runs migrations over a synchronous connection of the configured URL."""

from alembic import context
from sqlalchemy import create_engine, pool

from xiaoer.all_models import Base
from xiaoer.db import install_sqlite_pragmas

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "", poolclass=pool.NullPool)
    install_sqlite_pragmas(engine)
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            # SQLite alters a table by copying it; with foreign keys on, dropping the old copy
            # fails once other tables point at it. Checked again after the migration.
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.commit()
        _run(conn)
        if conn.dialect.name == "sqlite":
            broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"migration left broken foreign keys: {broken[:5]}")
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")


def _run(connection) -> None:  # type: ignore[no-untyped-def,unused-ignore]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
