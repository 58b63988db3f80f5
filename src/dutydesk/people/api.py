"""REST endpoints for sign-in, the caller's own account, and people administration."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session

from dutydesk.access.deps import Api
from dutydesk.access.policy import Actor, require_admin
from dutydesk.kernel.errors import Forbidden, NotFound
from dutydesk.people import queries, service
from dutydesk.people.schemas import (
    CustomerCreate,
    CustomerPatch,
    CustomerRead,
    GroupCreate,
    GroupPatch,
    GroupRead,
    LoginRequest,
    LoginResponse,
    TokenCreate,
    TokenCreated,
    TokenRead,
    UserCreate,
    UserPatch,
    UserRead,
)

router = APIRouter(prefix="/api/v1", tags=["people"])


@router.post("/auth/login", response_model=LoginResponse, tags=["auth"])
async def login(body: LoginRequest, request: Request, api: Api) -> dict[str, Any]:
    """Exchange a password for a new API token; failures are counted and rate-limited."""
    address = request.client.host if request.client else "unknown"

    def check(session: Session) -> service.LoginResult:
        return service.sign_in(
            session, api.settings, login=body.login, password=body.password, address=address
        )

    result = await api.anonymous_write(check)  # the attempt is committed even when it fails
    user_id = service.raise_for_login(result).id

    def issue(session: Session) -> dict[str, Any]:
        user = queries.get_user(session, user_id)
        actor = queries.build_actor(session, user)
        token, plain = service.create_token(session, actor, user, name="sign-in", scope="write")
        return {"token": plain, "token_id": token.id, "username": user.username, "role": user.role}

    return await api.anonymous_write(issue)


@router.get("/me", response_model=UserRead)
async def me(api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        assert actor.user_id is not None
        return UserRead.model_validate(queries.get_user(session, actor.user_id)).model_dump(
            mode="json"
        )

    return await api.read(work)


@router.get("/admin/users", response_model=list[UserRead], tags=["admin"])
async def list_users(api: Api) -> list[dict[str, Any]]:
    def work(session: Session, actor: Actor) -> list[dict[str, Any]]:
        require_admin(actor)
        return [
            UserRead.model_validate(u).model_dump(mode="json") for u in queries.list_users(session)
        ]

    return await api.read(work)


@router.post("/admin/users", status_code=201, response_model=UserRead, tags=["admin"])
async def create_user(body: UserCreate, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        user = service.add_user(
            session,
            actor,
            username=body.username,
            email=body.email,
            role=body.role,
            full_name=body.full_name,
            password=body.password,
            customer_id=body.customer_id,
        )
        return UserRead.model_validate(user).model_dump(mode="json")

    return await api.write(work)


@router.patch("/admin/users/{user_id}", response_model=UserRead, tags=["admin"])
async def patch_user(user_id: int, body: UserPatch, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        require_admin(actor)
        user = queries.get_user(session, user_id)
        if body.role is not None:
            service.set_role(session, actor, user, body.role)
        if body.is_active is False:
            service.disable_user(session, actor, user)
        if body.is_available is not None:
            user.is_available = body.is_available
        if body.password is not None:
            service.change_password(session, actor, user, body.password)
        return UserRead.model_validate(user).model_dump(mode="json")

    return await api.write(work)


@router.get("/tokens", response_model=list[TokenRead], tags=["auth"])
async def list_tokens(api: Api) -> list[dict[str, Any]]:
    def work(session: Session, actor: Actor) -> list[dict[str, Any]]:
        owner = None if actor.is_admin else actor.user_id
        return [
            TokenRead.model_validate(t).model_dump(mode="json")
            for t in queries.list_tokens(session, owner)
        ]

    return await api.read(work)


@router.post("/tokens", status_code=201, response_model=TokenCreated, tags=["auth"])
async def create_token(body: TokenCreate, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        if actor.scope != "write":
            raise Forbidden("a read-only token cannot create tokens")
        user_id = body.user_id if body.user_id is not None else actor.user_id
        assert user_id is not None
        if user_id != actor.user_id:
            require_admin(actor)
        user = queries.get_user(session, user_id)
        token, plain = service.create_token(session, actor, user, name=body.name, scope=body.scope)
        return {**TokenRead.model_validate(token).model_dump(mode="json"), "token": plain}

    return await api.write(work)


@router.delete("/tokens/{token_id}", response_model=TokenRead, tags=["auth"])
async def revoke_token(token_id: int, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        token = queries.get_token(session, token_id)
        if token.user_id != actor.user_id and not actor.is_admin:
            raise NotFound(f"token {token_id} not found")
        return TokenRead.model_validate(service.revoke_token(session, actor, token)).model_dump(
            mode="json"
        )

    return await api.write(work)


def _group_read(session: Session, group: Any) -> dict[str, Any]:
    read = GroupRead.model_validate(group)
    read.member_ids = queries.list_group_member_ids(session, group.id)
    return read.model_dump(mode="json")


@router.get("/admin/groups", response_model=list[GroupRead], tags=["admin"])
async def list_groups(api: Api) -> list[dict[str, Any]]:
    def work(session: Session, actor: Actor) -> list[dict[str, Any]]:
        if not actor.is_staff:
            raise Forbidden("only service desk staff list groups")
        return [_group_read(session, g) for g in queries.list_groups(session)]

    return await api.read(work)


@router.post("/admin/groups", status_code=201, response_model=GroupRead, tags=["admin"])
async def create_group(body: GroupCreate, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        group = service.create_group(session, actor, **body.model_dump())
        return _group_read(session, group)

    return await api.write(work)


@router.patch("/admin/groups/{group_id}", response_model=GroupRead, tags=["admin"])
async def patch_group(group_id: int, body: GroupPatch, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        require_admin(actor)
        group = service.update_group(
            session, actor, queries.get_group(session, group_id), **body.model_dump()
        )
        return _group_read(session, group)

    return await api.write(work)


@router.put("/admin/groups/{group_id}/members/{user_id}", response_model=GroupRead, tags=["admin"])
async def add_member(group_id: int, user_id: int, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        require_admin(actor)
        group = queries.get_group(session, group_id)
        service.add_member(session, actor, group, queries.get_user(session, user_id))
        session.flush()
        return _group_read(session, group)

    return await api.write(work)


@router.delete(
    "/admin/groups/{group_id}/members/{user_id}", response_model=GroupRead, tags=["admin"]
)
async def remove_member(group_id: int, user_id: int, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        require_admin(actor)
        group = queries.get_group(session, group_id)
        service.remove_member(session, actor, group, queries.get_user(session, user_id))
        session.flush()
        return _group_read(session, group)

    return await api.write(work)


@router.get("/admin/customers", response_model=list[CustomerRead], tags=["admin"])
async def list_customers(api: Api) -> list[dict[str, Any]]:
    def work(session: Session, actor: Actor) -> list[dict[str, Any]]:
        require_admin(actor)
        return [
            CustomerRead.model_validate(c).model_dump(mode="json")
            for c in queries.list_customers(session)
        ]

    return await api.read(work)


@router.post("/admin/customers", status_code=201, response_model=CustomerRead, tags=["admin"])
async def create_customer(body: CustomerCreate, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        return CustomerRead.model_validate(
            service.create_customer(session, actor, **body.model_dump())
        ).model_dump(mode="json")

    return await api.write(work)


@router.patch("/admin/customers/{customer_id}", response_model=CustomerRead, tags=["admin"])
async def patch_customer(customer_id: int, body: CustomerPatch, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        require_admin(actor)
        customer = service.update_customer(
            session, actor, queries.get_customer(session, customer_id), **body.model_dump()
        )
        return CustomerRead.model_validate(customer).model_dump(mode="json")

    return await api.write(work)


@router.put("/admin/users/{user_id}/customers/{customer_id}", status_code=204, tags=["admin"])
async def serve_customer(user_id: int, customer_id: int, api: Api) -> None:
    def work(session: Session, actor: Actor) -> None:
        require_admin(actor)
        service.serve_customer(
            session,
            actor,
            queries.get_user(session, user_id),
            queries.get_customer(session, customer_id),
        )

    await api.write(work)
