"""Catalogues: the set of ids of one kind of aggregate (domains, pools, streams).

Saved in the same transaction as the aggregate it lists, so a listing never misses one.
"""

from __future__ import annotations

from domain.audited import Audited, id_for_name


class Catalogue(Audited):
    class Event(Audited.Event):
        pass

    class Opened(Event, Audited.Created):
        kind: str

    class Entered(Event):
        ids: list[str]

        def apply_to(self, catalogue: Catalogue) -> None:
            catalogue.ids.extend(self.ids)

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.ids: list[str] = []

    @staticmethod
    def id_for(kind: str) -> object:
        return id_for_name("catalogue", kind)

    @classmethod
    def open(cls, kind: str) -> Catalogue:
        return cls._create(
            cls.Opened,
            id=id_for_name("catalogue", kind),
            kind=kind,
            actor="system",
            reason="opened",
            command_id=None,
        )

    def enter(self, ids: list[str], *, actor: str) -> None:
        new = [item for item in ids if item not in self.ids]
        if new:
            self.trigger_event(
                self.Entered, ids=new, actor=actor, reason="entered", command_id=None
            )
