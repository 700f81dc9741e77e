"""Stories: coverage of one event across outlets, grouped as articles arrive (pure core)."""
