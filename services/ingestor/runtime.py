"""What the running app holds (``app.state.runtime``): built by the lifespan in ``app``, read by
the HTTP edge. Its own module so that the edge needs no import of the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from services.ingestor.acceptor import Acceptor
from services.ingestor.delivery import Delivery
from services.ingestor.health import SourceHealth
from services.ingestor.intake import Intake
from services.ingestor.ledger import Ledger
from services.ingestor.platforms.keys import Keys
from services.ingestor.platforms.registry import Platforms
from services.ingestor.settings import IngestorSettings


@dataclass(frozen=True)
class Runtime:
    settings: IngestorSettings
    keys: Keys
    platforms: Platforms
    delivery: Delivery
    ledger: Ledger
    acceptor: Acceptor
    intake: Intake
    health: SourceHealth

    @property
    def ready(self) -> bool:
        """The producer is connected and the database answered its last contact."""
        return self.delivery.ready and self.ledger.reachable
