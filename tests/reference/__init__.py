"""Naive reference implementations the fast st_plus code is tested against."""
