"""What an edge (the HTTP app, a future gRPC server) needs from the running hub.

The composition root (``channelhub.hub.Hub``) satisfies this structurally, so edges do not
import it and the layers keep pointing down.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from channelhub.platform.config import Settings
from channelhub.platform.crypto import SecretBox
from channelhub.platform.db.database import Database
from channelhub.platform.events.bus import EventBus
from channelhub.platform.inbox.store import InboxWriter, Receiver


class Runtime(Protocol):
    settings: Settings
    db: Database
    bus: EventBus
    secret_box: SecretBox
    receivers: Mapping[str, Receiver]
    inbox_writer: InboxWriter

    async def start(self, *, relay: bool = True, consumers: bool = True) -> None: ...

    async def stop(self) -> None: ...
