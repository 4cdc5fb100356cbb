"""Use cases: one module per capability; every call that changes the books is one transaction."""
