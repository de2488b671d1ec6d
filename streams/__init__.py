"""Kafka/Faust wiring of chatwatch. Importing `streams.schemas` or `streams.settings` must not import Faust."""
