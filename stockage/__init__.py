"""Storage on SQLite through aiosqlite: one connection, numbered migrations, one repository per
aggregate. Message bodies are never written here, except the text of a parked item."""

from stockage.database import Database, DatabaseTooNew, open_database

__all__ = ["Database", "DatabaseTooNew", "open_database"]
