"""The agent workspace's routers in one: the new-incident form first (its path would
otherwise match `/incidents/{number}`), then the queues and the incident page."""

from __future__ import annotations

from fastapi import APIRouter

from dutydesk.incidents.web_new import router as new_router
from dutydesk.incidents.web_page import router as page_router
from dutydesk.incidents.web_queues import router as queues_router

router = APIRouter(include_in_schema=False)
router.include_router(new_router)
router.include_router(queues_router)
router.include_router(page_router)
