"""Seller statements, invoices, receipts and collections."""
