"""Thin HTTP handlers, one module per resource; each exports ``routes``."""
