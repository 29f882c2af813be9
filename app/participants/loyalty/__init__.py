"""The loyalty service: its own Flask app and database, and the client the saga uses."""
