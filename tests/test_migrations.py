"""Every migration is reversible: up → down → up on a database of its own, on both engines."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from sqlalchemy import create_engine, inspect

from tests.conftest import postgres_admin_url
from xiaoer.all_models import Base
from xiaoer.migrate import downgrade, sync_url, upgrade


@pytest.fixture
def empty_database_url(db_kind, tmp_path):
    if db_kind == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}"
        return
    admin = postgres_admin_url()
    name = f"xiaoer_mig_{uuid.uuid4().hex[:10]}"
    libpq = admin.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin.rpartition('/')[0]}/{name}"
    finally:
        with psycopg.connect(libpq, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _tables(url: str) -> set[str]:
    engine = create_engine(sync_url(url))
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_migrations_go_up_down_and_up_again(empty_database_url):
    upgrade(empty_database_url)
    assert _tables(empty_database_url) == set(Base.metadata.tables)
    downgrade(empty_database_url, "base")
    assert _tables(empty_database_url) == set()
    upgrade(empty_database_url)
    assert _tables(empty_database_url) == set(Base.metadata.tables)


def test_models_and_migrations_agree(empty_database_url):
    """Autogenerate finds nothing to do: the models have no change without a migration."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    upgrade(empty_database_url)
    engine = create_engine(sync_url(empty_database_url))
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, Base.metadata) == []
    finally:
        engine.dispose()


def test_scripts_published_before_versions_existed_become_version_1(empty_database_url):
    from sqlalchemy import text

    upgrade(empty_database_url, "0001")
    engine = create_engine(sync_url(empty_database_url))
    try:
        with engine.begin() as conn:
            shop_id = conn.execute(
                text(
                    "insert into shop (slug, name, timezone, settings, created_at) values"
                    " ('m', 'M', 'Asia/Shanghai', '{}', CURRENT_TIMESTAMP) returning id"
                )
            ).scalar_one()
            ids = {}
            for title, status in (("发货时间", "published"), ("草稿", "draft")):
                ids[title] = conn.execute(
                    text(
                        "insert into script (shop_id, title, category, answer, status,"
                        " updated_at, created_at) values (:s, :t, '咨询/物流', '48小时内发货',"
                        " :st, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) returning id"
                    ),
                    {"s": shop_id, "t": title, "st": status},
                ).scalar_one()
                conn.execute(
                    text("insert into script_question (script_id, text) values (:i, '几天发货')"),
                    {"i": ids[title]},
                )
        upgrade(empty_database_url)
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "select s.title, s.published_version, v.version, v.content from script s"
                    " left join script_version v on v.script_id = s.id order by s.id"
                )
            ).all()
    finally:
        engine.dispose()
    published, draft = rows
    assert published[:3] == ("发货时间", 1, 1)
    content = (
        published[3] if isinstance(published[3], dict) else __import__("json").loads(published[3])
    )
    assert content["answer"] == "48小时内发货"
    assert content["questions"] == ["几天发货"]
    assert draft[1:3] == (None, None)
