"""Compensation requests, audit policies and chargebacks to the liable party."""
