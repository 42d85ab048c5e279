"""Shipments, billing runs, vendor invoices, payables and receivables."""
