"""Services: the only writers. Each write is a unit run by the writer (see ``storage.writer``)."""
