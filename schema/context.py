"""The per-request context: services, the signed-in viewer and fresh DataLoaders."""

from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from app.auth import TokenClaims
from app.container import Services
from app.enums import Role
from app.errors import ErrorCode, ServiceError
from schema.dataloaders import Loaders


@dataclass
class Context:
    request: Request | WebSocket
    response: Response | WebSocket | None
    services: Services
    viewer: TokenClaims | None
    connection_params: dict[str, object] | None = None  # WebSocket `connection_init` payload
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.services)

    @property
    def client_key(self) -> str:
        """Who to bill for rate limits: the signed-in user, else the client's IP address (also
        for visitors, whom anyone can make at will)."""
        if self.viewer is not None and self.viewer.role != Role.VISITOR.value:
            return f"user:{self.viewer.user_id}"
        client = self.request.client
        return f"ip:{client.host if client else 'unknown'}"

    def require_viewer(self) -> TokenClaims:
        if self.viewer is None:
            raise ServiceError(ErrorCode.UNAUTHENTICATED, "Sign in to do this")
        return self.viewer

    @property
    def visit(self) -> int | None:
        """The visitor's id when the bearer token is a visitor's, else None."""
        viewer = self.viewer
        return viewer.user_id if viewer and viewer.role == Role.VISITOR.value else None

    def require_admin(self) -> TokenClaims:
        viewer = self.require_viewer()
        if viewer.role != Role.ADMIN.value:
            raise ServiceError(ErrorCode.FORBIDDEN, "Only admins may do this")
        return viewer

    def may_read_user(self, user_id: int) -> bool:
        viewer = self.viewer
        return viewer is not None and (viewer.user_id == user_id or viewer.role == Role.ADMIN.value)
