"""The bundled demo: realistic conversations, signed and posted through the real stack."""
