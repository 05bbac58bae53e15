"""One router per resource: scoring, model, health (+ metrics), admin."""
