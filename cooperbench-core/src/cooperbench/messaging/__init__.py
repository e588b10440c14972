"""Messaging between agents of a coop run: Redis inboxes and a shared git remote."""
