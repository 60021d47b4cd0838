from sqlalchemy import text


def test_health_and_readiness(app_client):
    assert app_client.get("/healthz").json() == {"status": "ok"}
    assert app_client.get("/readyz").json() == {"status": "ready"}
    assert "xiaoer_http_request_seconds" in app_client.get("/metrics").text


def test_demo_shop_seeds_staff(demo_shop, sync_engine):
    with sync_engine.connect() as conn:
        n = conn.execute(
            text("select count(*) from user_account where shop_id = :s"), {"s": demo_shop.shop_id}
        ).scalar()
    assert n == 5
