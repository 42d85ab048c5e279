"""Vendor invoices, freight audit, payables and payment runs."""
