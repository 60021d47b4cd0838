"""`POST /api/v1/bot/preview`: the admin console for trying the bot on a text."""

from __future__ import annotations

from fastapi import APIRouter, Request

from xiaoer.bot import service
from xiaoer.bot.schemas import DecisionRead, PreviewRequest
from xiaoer.customers import service as customers
from xiaoer.web.deps import DB, Supervisor

router = APIRouter(prefix="/api/v1/bot", tags=["bot"])


@router.post("/preview")
async def preview(
    request: Request, body: PreviewRequest, session: DB, user: Supervisor
) -> DecisionRead:
    """The decision the bot would take for `text` as a first message (nothing is stored).
    With `customer_id`, variables come from that customer's orders."""
    if body.customer_id is not None:
        # A customer of another shop is "not found" like a missing one.
        await customers.get_customer(session, shop_id=user.shop_id, customer_id=body.customer_id)
    result = await service.preview(
        session,
        registry=request.app.state.bot,
        shop_id=user.shop_id,
        text=body.text,
        customer_id=body.customer_id,
    )
    return DecisionRead(**result.public())
