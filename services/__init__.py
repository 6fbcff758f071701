"""Switchboard services. Services never import each other; they share only `shared`."""
