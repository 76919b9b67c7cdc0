"""Read models: what one read path shows, how PostgreSQL renders it and how it is kept."""
