"""Nosana, the Django side: its form, its sandbox twin and its demo spec (see controlpanel/vendors)."""
