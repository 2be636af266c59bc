"""Time in text: dates in articles, the time a question asks about, and events that date it."""
