"""Closed sets of values the database stores and the API shows; free of SQLAlchemy, so the
schema can use them without the ORM."""

from enum import StrEnum


class InteractionType(StrEnum):
    VIEW = "view"
    CLICK = "click"
    CART_ADD = "cart_add"
    PURCHASE = "purchase"


class Role(StrEnum):
    CUSTOMER = "customer"
    ADMIN = "admin"
