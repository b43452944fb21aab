"""Lists people keep: saved templates and the blocklist.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy import (
    func,
    select,
    update,
)

from ..core.errors import ValidationError
from .dialect import _insert_ignoring_conflicts
from .schema import blocklist, templates
from .values import BlockedPhone, SavedTemplate, _chunks, _e164, _existing, _template, _utcnow


class ListsMixin:
    """The ``Store``'s lists people keep."""

    # -- templates ---------------------------------------------------------------------------

    def save_template(self, name: str, text: str, *, replace: bool = False) -> SavedTemplate:
        """Save a message text under a unique name; an existing name needs ``replace=True``."""
        name = name.strip()
        if not name:
            raise ValidationError("Give the template a name.", field="name")
        if not text.strip():
            raise ValidationError(f"Template {name!r} has no text.", field="text")
        now = _utcnow()
        with self.atomic() as connection:
            existing = connection.execute(select(templates.c.id).where(templates.c.name == name)).first()
            if existing is None:
                connection.execute(templates.insert().values(name=name, text=text, created_at=now, updated_at=now))
            elif replace:
                connection.execute(update(templates).where(templates.c.id == existing.id).values(text=text, updated_at=now))
            else:
                raise ValidationError(
                    f"A template named {name!r} already exists; choose another name or replace it.", field="name"
                )
            return _template(connection.execute(select(templates).where(templates.c.name == name)).one())

    def get_template(self, name: str) -> SavedTemplate | None:
        with self._reading() as connection:
            row = connection.execute(select(templates).where(templates.c.name == name.strip())).first()
        return _template(row) if row is not None else None

    def list_templates(self) -> list[SavedTemplate]:
        """All templates by name."""
        with self._reading() as connection:
            return [_template(row) for row in connection.execute(select(templates).order_by(templates.c.name))]

    def delete_template(self, name: str) -> bool:
        """Delete a template; False when there was none of that name."""
        with self.atomic() as connection:
            return bool(connection.execute(sa.delete(templates).where(templates.c.name == name.strip())).rowcount)

    # -- blocklist ---------------------------------------------------------------------------

    def block(self, phones: Iterable[str], *, reason: str = "", added_by: str = "local") -> int:
        """Add E.164 numbers to the blocklist; return how many were not there already."""
        now = _utcnow()
        rows = [
            {"phone": _e164(phone), "reason": reason, "added_at": now, "added_by": added_by}
            for phone in dict.fromkeys(phones)
        ]
        if not rows:
            return 0
        with self.atomic() as connection:
            before = connection.scalar(select(func.count()).select_from(blocklist))
            connection.execute(_insert_ignoring_conflicts(connection, blocklist), rows)
            return connection.scalar(select(func.count()).select_from(blocklist)) - before

    def unblock(self, phones: Iterable[str]) -> int:
        """Remove numbers from the blocklist; return how many were removed."""
        removed = 0
        with self.atomic() as connection:
            for chunk in _chunks(list(dict.fromkeys(phones))):
                removed += connection.execute(sa.delete(blocklist).where(blocklist.c.phone.in_(chunk))).rowcount
        return removed

    def list_blocked(self) -> list[BlockedPhone]:
        """The whole blocklist, newest first."""
        with self._reading() as connection:
            rows = connection.execute(select(blocklist).order_by(blocklist.c.added_at.desc(), blocklist.c.phone))
            return [BlockedPhone(row.phone, row.reason, row.added_at, row.added_by) for row in rows]

    def blocked(self, phones: Iterable[str]) -> set[str]:
        """Those of ``phones`` that are on the blocklist."""
        with self._reading() as connection:
            return _existing(connection, blocklist.c.phone, phones)
