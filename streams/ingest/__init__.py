"""Ingestion adapters: sources of WhatsApp messages turned into canonical `Message`s."""
