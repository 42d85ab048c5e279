"""Model choices the seller portal shows in the reader's language: the catalogue extractor
(settlement_ops.catalogues) puts their labels into the .po files."""

from .models import Ticket, TicketCategory

TRANSLATED_CHOICES = [Ticket.State, Ticket.ReferenceKind, TicketCategory]
