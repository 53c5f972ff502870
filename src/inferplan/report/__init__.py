"""Rendering of result records: terminal tables and JSON. Computes nothing."""
